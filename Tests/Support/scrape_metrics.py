"""Scrapes a Prometheus text endpoint and parses it with the official Python client's parser
(`prometheus_client.parser`), as a Prometheus server would read it.

Usage: scrape_metrics.py URL TOKEN
Prints one JSON object: `name{label="value",...}` -> value, for every sample. Exits 1 when the text does not parse.
"""
import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def main():
    request = urllib.request.Request(sys.argv[1], headers={"Authorization": f"Bearer {sys.argv[2]}"})
    with urllib.request.urlopen(request, timeout=20) as response:
        content_type = response.headers.get("Content-Type", "")
        text = response.read().decode()
    samples = {"content-type": content_type}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    print(json.dumps(samples, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
