#!/usr/bin/env python3
"""The AWS ECS guide's event handler, run over a corpus: the baseline of `scripts/bench-replay`.

The handler of "Handling Amazon ECS events" (Amazon ECS Developer Guide) as the guide writes
it, with the two AWS services it calls replaced by what a laptop has:

- per event, its debug print of the whole event (`print(json.dumps(event))`);
- the version-checked upsert into `ECSTaskState` / `ECSCtrInstanceState`, with a dict per table
  standing in for DynamoDB's GetItem and PutItem (the stored item is the guide's `new_record`:
  `cw_version` plus the detail);
- the rule of the tutorial "Sending Amazon SNS alerts for task stopped events", whose SNS
  target publishes the matching event's JSON: here written to the same output;
- at the end, the same report content `ecs-events replay --json` writes: the counts, the final
  stored state of every task and container instance (in ARN order) and every alert.

Everything goes to standard output, the sink the replay writes to as well.

    python3 benches/baseline/guide_handler.py corpus.jsonl > out.txt
"""
import json
import sys

TABLES = {
    "ECS Task State Change": ("ECSTaskState", "taskArn"),
    "ECS Container Instance State Change": ("ECSCtrInstanceState", "containerInstanceArn"),
}


def stopped_task_rule(event):
    """The tutorial's event pattern, as EventBridge evaluates it."""
    detail = event.get("detail") or {}
    return (event.get("source") == "aws.ecs"
            and event.get("detail-type") == "ECS Task State Change"
            and detail.get("lastStatus") == "STOPPED"
            and detail.get("stoppedReason") == "Essential container in task exited")


def lambda_handler(event, tables, stats):
    """The guide's handler; `tables` stands in for DynamoDB. Returns what it did."""
    new_record = {}

    # For debugging so you can see raw event format.
    print("Here is the event:")
    print(json.dumps(event))

    if event["source"] != "aws.ecs":
        raise ValueError("Function only supports input from events with a source type of: aws.ecs")

    # Switch on task/container events.
    if event["detail-type"] not in TABLES:
        raise ValueError("detail-type for event is not a supported type. Exiting without saving event.")
    table_name, id_name = TABLES[event["detail-type"]]
    event_id = event["detail"][id_name]

    new_record["cw_version"] = event["version"]
    new_record.update(event["detail"])

    # "status" is a reserved word in DDB, but it appears in containerPort state change messages.
    if "status" in event:
        new_record["current_status"] = event["status"]
        new_record.pop("status")

    # Look first to see if you have received a newer version of an event ID. If the version is
    # OLDER than what you have on file, do not process it. Otherwise, update the associated
    # record with this latest information.
    print("Looking for recent event with same ID...")
    table = tables[table_name]
    saved_event = table.get(event_id)  # GetItem
    if saved_event is not None:
        # Compare events and reconcile.
        print("EXISTING EVENT DETECTED: Id " + event_id + " - reconciling")
        if saved_event["version"] < event["detail"]["version"]:
            print("Received event is a more recent version than the stored event - updating")
            table[event_id] = new_record  # PutItem
            stats["stored"] += 1
        else:
            print("Received event is an older version than the stored event - ignoring")
            same = saved_event["version"] == event["detail"]["version"]
            stats["duplicates" if same else "stale"] += 1
    else:
        print("Saving new event - ID " + event_id)
        table[event_id] = new_record  # PutItem
        stats["stored"] += 1


def main(path):
    tables = {"ECSTaskState": {}, "ECSCtrInstanceState": {}}
    stats = {"events": 0, "stored": 0, "duplicates": 0, "stale": 0, "ignored": 0, "alerts": 0}
    alerts = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            event = json.loads(line)
            stats["events"] += 1
            if stopped_task_rule(event):
                print(json.dumps(event))  # the SNS target publishes the event as it is
                alerts.append(event)
                stats["alerts"] += 1
            try:
                lambda_handler(event, tables, stats)
            except ValueError:
                stats["ignored"] += 1  # the invocation fails; EventBridge's retries give up
    report = {
        "stats": stats,
        "tasks": [tables["ECSTaskState"][arn] for arn in sorted(tables["ECSTaskState"])],
        "containerInstances": [
            tables["ECSCtrInstanceState"][arn] for arn in sorted(tables["ECSCtrInstanceState"])
        ],
        "alerts": alerts,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
