"""Normalise, wrap and justify text: unicodedata, textwrap and string."""
import string
import sys
import textwrap
import unicodedata

SAMPLE = "Café déjà vu: naïve façades, a coöperative résumé. " * 4
text = sys.stdin.read() or SAMPLE
plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
for line in textwrap.wrap(plain, width=40):
    print(line.ljust(40) + "|")
print(sum(c in string.punctuation for c in plain), "punctuation marks")
