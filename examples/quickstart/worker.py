"""The quickstart worker: polls the API every few seconds."""
import os
import time
import urllib.error
import urllib.request

while True:
    try:
        with urllib.request.urlopen(os.environ["API_URL"] + "/from-worker") as answer:
            print("worker saw", answer.read().decode(), flush=True)
    except urllib.error.URLError as error:
        print("worker could not reach the API:", error, flush=True)
    time.sleep(5)
