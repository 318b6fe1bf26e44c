# want: py.network.requests py.import.not-allowed
import requests
requests.get("http://127.0.0.1:1/")
