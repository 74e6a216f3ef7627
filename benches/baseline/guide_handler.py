#!/usr/bin/env python3
"""The AWS ECS guide's Python handler logic, as a benchmark baseline for `ecs-replay run`.

For each JSON line: json.loads; for task and container instance events, the guide's version
comparison against a dict standing in for the DynamoDB table (GetItem, then PutItem when the
event is newer); the tutorial's stopped-task pattern as an equality check. Prints the same
counts `ecs-replay run --json` reports.

    python3 benches/baseline/guide_handler.py corpus.jsonl
"""
import json
import sys


def main(path):
    tables = {"ECSTaskState": {}, "ECSCtrInstanceState": {}}
    stats = {"events": 0, "stored": 0, "duplicates": 0, "stale": 0, "ignored": 0, "alerts": 0}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            event = json.loads(line)
            stats["events"] += 1
            detail = event["detail"]
            if event["detail-type"] == "ECS Task State Change":
                table, key = tables["ECSTaskState"], detail["taskArn"]
            elif event["detail-type"] == "ECS Container Instance State Change":
                table, key = tables["ECSCtrInstanceState"], detail["containerInstanceArn"]
            else:
                stats["ignored"] += 1
                continue
            item = table.get(key)  # the guide's GetItem
            if item is None or detail["version"] > item["version"]:
                table[key] = detail  # the guide's PutItem
                stats["stored"] += 1
            elif detail["version"] == item["version"]:
                stats["duplicates"] += 1
            else:
                stats["stale"] += 1
            if (event["source"] == "aws.ecs"
                    and event["detail-type"] == "ECS Task State Change"
                    and detail.get("lastStatus") == "STOPPED"
                    and detail.get("stoppedReason") == "Essential container in task exited"):
                stats["alerts"] += 1  # the tutorial publishes every match: no deduplication
    print(json.dumps({"stats": stats}))


if __name__ == "__main__":
    main(sys.argv[1])
