"""Parse XML and HTML with the standard library: element tree and
html.parser, then print what they hold."""
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

doc = ET.fromstring("<items><item id='1'>apple</item><item id='2'>pear</item></items>")
print([(i.get("id"), i.text) for i in doc.iter("item")])


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.extend(v for k, v in attrs if k == "href")


p = Links()
p.feed('<p><a href="/a">a</a> and <a href="/b">b</a></p>')
print(p.links)
