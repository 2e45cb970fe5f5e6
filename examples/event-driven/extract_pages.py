#!/usr/bin/env python3
"""Mapper of clicks_parse: reads click log lines (timestamp,page,user) and writes page<TAB>user."""
import sys

for line in sys.stdin:
    parts = line.rstrip("\n").split(",")
    if len(parts) == 3 and parts[0] != "timestamp":
        print(f"{parts[1]}\t{parts[2]}")
