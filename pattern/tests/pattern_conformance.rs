//! GIVEN an EventBridge event pattern and an event WHEN the pattern is compiled and matched
//! THEN the result is what EventBridge gives: a match, no match, or the pattern is refused
//! with an error that names the field.
//!
//! The cases come from the Amazon EventBridge User Guide (the section is cited above each
//! group) and, where the guide is silent, from aws/event-ruler (its README and tests), the
//! engine behind EventBridge. The runner checks every case and reports every failing case by
//! name at once. The last test reuses the valid cases' patterns to check `Pattern::paths`: an
//! event reduced to those paths matches the same.

mod support;

use std::collections::HashSet;

use eventbridge_pattern::{Pattern, PatternErrorKind};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

/// What a case expects.
#[derive(Debug)]
enum Expect {
    /// The pattern compiles and matches the event.
    Match,
    /// The pattern compiles and does not match the event.
    NoMatch,
    /// The pattern is refused; the error names `path` and its message contains `contains`.
    Error { path: &'static str, contains: &'static str },
}

struct Case {
    name: &'static str,
    pattern: String,
    event: String,
    expect: Expect,
}

fn matches(name: &'static str, pattern: impl Into<String>, event: impl Into<String>) -> Case {
    Case { name, pattern: pattern.into(), event: event.into(), expect: Expect::Match }
}

fn no_match(name: &'static str, pattern: impl Into<String>, event: impl Into<String>) -> Case {
    Case { name, pattern: pattern.into(), event: event.into(), expect: Expect::NoMatch }
}

fn error(
    name: &'static str,
    pattern: impl Into<String>,
    path: &'static str,
    contains: &'static str,
) -> Case {
    Case {
        name,
        pattern: pattern.into(),
        event: "{}".into(),
        expect: Expect::Error { path, contains },
    }
}

// The captured ECS events (events/samples, see events/README.md).
const TASK_GUIDE_EXAMPLE: &str = include_str!("../../events/samples/task-guide-example.json");
const TASK_ESSENTIAL_NONZERO: &str =
    include_str!("../../events/samples/task-essential-exited-nonzero.json");
const TASK_ESSENTIAL_ZERO: &str =
    include_str!("../../events/samples/task-essential-exited-zero.json");
const TASK_OOM_KILLED: &str = include_str!("../../events/samples/task-oom-killed.json");
const TASK_STOPPED_BY_USER: &str = include_str!("../../events/samples/task-stopped-by-user.json");
const TASK_EC2_RUNNING: &str = include_str!("../../events/samples/task-ec2-running.json");
const TASK_SPOT_STOPPED: &str =
    include_str!("../../events/samples/task-spot-stopped-after-interruption.json");
const TASK_SCALED_IN: &str = include_str!("../../events/samples/task-scaled-in.json");
const TASK_CANNOT_PULL: &str =
    include_str!("../../events/samples/task-failed-to-start-cannot-pull.json");
const CONTAINER_INSTANCE_GUIDE_EXAMPLE: &str =
    include_str!("../../events/samples/container-instance-guide-example.json");
const DEPLOYMENT_COMPLETED: &str = include_str!("../../events/samples/deployment-completed.json");
const STORM_STOPPED: &str =
    include_str!("../../events/scenarios/stopped-task-storm/02-z-stopped-v8.json");
const STORM_USER_STOPPED: &str =
    include_str!("../../events/scenarios/stopped-task-storm/03-w-stopped-v8-user-initiated.json");

/// The rule of the Amazon ECS Developer Guide's "Sending Amazon Simple Notification Service
/// alerts for task stopped events".
const ECS_STOPPED_TASK_RULE: &str = r#"{"source":["aws.ecs"],"detail-type":["ECS Task State Change"],"detail":{"lastStatus":["STOPPED"],"stoppedReason":["Essential container in task exited"]}}"#;

/// The EC2 event of the user guide's "Amazon EventBridge event patterns".
const EC2_EVENT: &str = r#"{
  "version": "0",
  "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "111122223333",
  "time": "2017-12-22T18:43:48Z",
  "region": "us-west-1",
  "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
  "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"}
}"#;

/// The event of event-ruler's README ("Ruler by Example").
const RULER_EVENT: &str = r#"{
  "version": "0",
  "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "012345679012",
  "time": "2017-10-02T16:24:49Z",
  "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
  "detail": {
    "c-count": 5,
    "d-count": 3,
    "x-limit": 301.8,
    "source-ip": "10.0.0.33",
    "instance-id": "i-000000aaaaaa00000",
    "state": "running"
  }
}"#;

/// event-ruler README, "JSON Array Matching".
const EMPLOYEES: &str = r#"{"employees":[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"},{"firstName":"Peter","lastName":"Jones"}]}"#;
const EMPLOYEES_NESTED: &str = r#"{"employees":[[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}],[{"firstName":"Peter","lastName":"Jones"}]]}"#;

/// A pattern nested `depth` objects deep: `{"a":{"a":...{"a":["x"]}}}`.
fn nested_pattern(depth: usize) -> String {
    format!("{}[\"x\"]{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

/// An event nested to match [`nested_pattern`].
fn nested_event(depth: usize) -> String {
    format!("{}\"x\"{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

/// A `'static` copy of a computed path, for an [`Expect::Error`].
fn leak(path: String) -> &'static str {
    Box::leak(path.into_boxed_str())
}

/// A pattern with `count` values in one field.
fn many_values(count: usize) -> String {
    let values: Vec<String> = (0..count).map(|i| format!("\"v{i}\"")).collect();
    format!("{{\"a\":[{}]}}", values.join(","))
}

/// A pattern whose `$or` groups multiply: one field object per entry of `branches`, each
/// holding a `$or` with that many branches.
fn or_product(branches: &[usize]) -> String {
    let fields: Vec<String> = branches
        .iter()
        .enumerate()
        .map(|(field, &count)| {
            let alternatives: Vec<String> =
                (0..count).map(|b| format!("{{\"k{b}\":[\"v\"]}}")).collect();
            format!("\"f{field}\":{{\"$or\":[{}]}}", alternatives.join(","))
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

fn cases() -> Vec<Case> {
    vec![
        // ---- User guide, "Amazon EventBridge event patterns" / "Event pattern syntax": fields
        // ---- must all be present with the same nesting; other fields are ignored.
        matches(
            "ec2 guide pattern matches the guide's event",
            r#"{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":["terminated"]}}"#,
            EC2_EVENT,
        ),
        matches("one field is enough", r#"{"source":["aws.ec2"]}"#, EC2_EVENT),
        no_match("a different source does not match", r#"{"source":["aws.ecs"]}"#, EC2_EVENT),
        no_match(
            "every pattern field must be present",
            r#"{"source":["aws.ec2"],"detail":{"reason":["terminated"]}}"#,
            EC2_EVENT,
        ),
        no_match("the nesting must be the same", r#"{"state":["terminated"]}"#, EC2_EVENT),
        no_match(
            "all fields must match (AND)",
            r#"{"source":["aws.ec2"],"region":["us-east-1"]}"#,
            EC2_EVENT,
        ),
        no_match("matching is case-sensitive", r#"{"source":["AWS.EC2"]}"#, EC2_EVENT),
        no_match("strings are not trimmed", r#"{"source":["aws.ec2 "]}"#, EC2_EVENT),
        no_match(
            "a pattern object does not match a string field",
            r#"{"source":{"name":["aws.ec2"]}}"#,
            EC2_EVENT,
        ),
        no_match(
            "a value list does not match an object field",
            r#"{"detail":["terminated"]}"#,
            EC2_EVENT,
        ),
        no_match(
            "an event that is not an object never matches",
            r#"{"a":[{"exists":false}]}"#,
            "[1,2]",
        ),
        matches(
            "operator names are ordinary field names outside $or",
            r#"{"prefix":["x"],"numeric":[1]}"#,
            r#"{"prefix":"x","numeric":1}"#,
        ),
        matches(
            "a dotted field name is one field name",
            r#"{"detail.state":["x"]}"#,
            r#"{"detail.state":"x"}"#,
        ),
        no_match(
            "a dotted field name does not reach into objects",
            r#"{"detail.state":["x"]}"#,
            r#"{"detail":{"state":"x"}}"#,
        ),
        // ---- User guide, "Matching event values" and "Comparison operators" (Equals): values
        // ---- are typed JSON; numbers compare by value within the numeric range.
        no_match("the string \"5\" does not match the number 5", r#"{"a":["5"]}"#, r#"{"a":5}"#),
        no_match("the number 5 does not match the string \"5\"", r#"{"a":[5]}"#, r#"{"a":"5"}"#),
        matches("5 matches 5.0", r#"{"a":[5]}"#, r#"{"a":5.0}"#),
        matches("5.0 matches 5", r#"{"a":[5.0]}"#, r#"{"a":5}"#),
        matches("3.018e2 matches 301.8", r#"{"a":[3.018e2]}"#, r#"{"a":301.8}"#),
        matches("-0 matches 0", r#"{"a":[-0]}"#, r#"{"a":0}"#),
        no_match("5 does not match 5.000001", r#"{"a":[5]}"#, r#"{"a":5.000001}"#),
        no_match(
            "5 does not match an event number with seven decimals",
            r#"{"a":[5]}"#,
            r#"{"a":5.0000001}"#,
        ),
        matches(
            "an account number beyond the numeric range matches itself",
            r#"{"account":[123456789012]}"#,
            r#"{"account":123456789012}"#,
        ),
        no_match(
            "an account number does not match its string",
            r#"{"account":[123456789012]}"#,
            r#"{"account":"123456789012"}"#,
        ),
        no_match(
            "a large number does not match a different one",
            r#"{"a":[123456789012]}"#,
            r#"{"a":123456789013}"#,
        ),
        matches(
            "a number with seven decimals matches the same number",
            r#"{"a":[0.1234567]}"#,
            r#"{"a":0.1234567}"#,
        ),
        no_match(
            "a number with seven decimals is not rounded",
            r#"{"a":[0.1234567]}"#,
            r#"{"a":0.123457}"#,
        ),
        matches("true matches true", r#"{"a":[true]}"#, r#"{"a":true}"#),
        matches("false matches false", r#"{"a":[false]}"#, r#"{"a":false}"#),
        no_match("true does not match false", r#"{"a":[true]}"#, r#"{"a":false}"#),
        no_match("true does not match \"true\"", r#"{"a":[true]}"#, r#"{"a":"true"}"#),
        no_match("\"true\" does not match true", r#"{"a":["true"]}"#, r#"{"a":true}"#),
        no_match("true does not match 1", r#"{"a":[true]}"#, r#"{"a":1}"#),
        matches("a unicode string matches itself", r#"{"a":["été"]}"#, r#"{"a":"été"}"#),
        no_match(
            "strings are compared without normalisation",
            r#"{"a":["été"]}"#,
            r#"{"a":"e\u0301te\u0301"}"#,
        ),
        matches(
            "an IP address value matches another spelling of the address (event-ruler)",
            r#"{"ip":["2001:db8::1"]}"#,
            r#"{"ip":"2001:DB8:0:0:0:0:0:1"}"#,
        ),
        no_match(
            "an IP address value does not match another address",
            r#"{"ip":["10.0.0.1"]}"#,
            r#"{"ip":"10.0.0.2"}"#,
        ),
        // ---- User guide, "Matching events on null values and empty strings".
        matches(
            "[\"\"] matches the guide's empty eventVersion",
            r#"{"detail":{"eventVersion":[""]}}"#,
            r#"{"detail":{"eventVersion":"","responseElements":null}}"#,
        ),
        matches(
            "[null] matches the guide's null responseElements",
            r#"{"detail":{"responseElements":[null]}}"#,
            r#"{"detail":{"eventVersion":"","responseElements":null}}"#,
        ),
        no_match("[null] does not match a missing field", r#"{"a":[null]}"#, r#"{"b":null}"#),
        no_match("[null] does not match an empty string", r#"{"a":[null]}"#, r#"{"a":""}"#),
        no_match("[\"\"] does not match null", r#"{"a":[""]}"#, r#"{"a":null}"#),
        no_match("[\"\"] does not match a missing field", r#"{"a":[""]}"#, r#"{}"#),
        no_match("[\"\"] does not match a space", r#"{"a":[""]}"#, r#"{"a":" "}"#),
        no_match("[\"null\"] does not match null", r#"{"a":["null"]}"#, r#"{"a":null}"#),
        // ---- User guide, "Matching on multiple field values" (arrays): any pattern value may
        // ---- match, and an event array matches when the intersection is not empty.
        matches(
            "the guide's resources arrays intersect",
            r#"{"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f","arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"]}"#,
            r#"{"resources":["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b","arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}"#,
        ),
        no_match(
            "disjoint arrays do not match",
            r#"{"resources":["arn:a","arn:b"]}"#,
            r#"{"resources":["arn:c","arn:d"]}"#,
        ),
        matches("any listed value matches", r#"{"source":["aws.ec2","aws.fargate"]}"#, EC2_EVENT),
        matches("an element of a number array matches", r#"{"a":[2]}"#, r#"{"a":[1,2,3]}"#),
        matches("nested event arrays are flattened", r#"{"a":[3]}"#, r#"{"a":[[1],[2,[3]]]}"#),
        no_match("an empty event array matches no value", r#"{"a":["x"]}"#, r#"{"a":[]}"#),
        matches(
            "scalars next to objects in an event array still match",
            r#"{"a":["x"]}"#,
            r#"{"a":["x",{"b":1}]}"#,
        ),
        matches(
            "null inside an event array matches [null]",
            r#"{"a":[null]}"#,
            r#"{"a":[1,null]}"#,
        ),
        no_match("types stay strict inside arrays", r#"{"a":[5]}"#, r#"{"a":["5","6"]}"#),
        // ---- event-ruler README, "JSON Array Matching": fields inside arrays of objects, with
        // ---- array consistency (two fields must come from the same array element).
        matches(
            "a field of any array element matches",
            r#"{"employees":{"firstName":["Anna"]}}"#,
            EMPLOYEES,
        ),
        matches(
            "two fields of the same element match",
            r#"{"employees":{"firstName":["Anna"],"lastName":["Smith"]}}"#,
            EMPLOYEES,
        ),
        no_match(
            "two fields from different elements do not match",
            r#"{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}"#,
            EMPLOYEES,
        ),
        matches(
            "multi-level arrays are crushed",
            r#"{"employees":{"firstName":["Peter"]}}"#,
            EMPLOYEES_NESTED,
        ),
        no_match(
            "array consistency holds across multi-level arrays",
            r#"{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}"#,
            EMPLOYEES_NESTED,
        ),
        matches(
            "consistency holds through nested arrays of objects",
            r#"{"a":{"b":{"c":[2]},"d":["x"]}}"#,
            r#"{"a":[{"b":[{"c":1},{"c":2}],"d":"x"}]}"#,
        ),
        no_match(
            "nested arrays of objects: the matches are in different outer elements",
            r#"{"a":{"b":{"c":[2]},"d":["x"]}}"#,
            r#"{"a":[{"b":[{"c":2}],"d":"y"},{"b":[{"c":1}],"d":"x"}]}"#,
        ),
        no_match(
            "a pattern object does not match an array of scalars",
            r#"{"a":{"b":["x"]}}"#,
            r#"{"a":["x"]}"#,
        ),
        matches(
            "a $or inside an array of objects may match any element",
            r#"{"a":{"$or":[{"b":["1"]},{"c":["2"]}]}}"#,
            r#"{"a":[{"b":"0"},{"c":"2"}]}"#,
        ),
        matches(
            "the OOM-killed container's exit code 137",
            r#"{"detail":{"containers":{"exitCode":[137]}}}"#,
            TASK_OOM_KILLED,
        ),
        no_match(
            "no container exited with 137",
            r#"{"detail":{"containers":{"exitCode":[137]}}}"#,
            TASK_ESSENTIAL_NONZERO,
        ),
        matches(
            "the same container is named checkout and exited 1",
            r#"{"detail":{"containers":{"name":["checkout"],"exitCode":[1]}}}"#,
            TASK_ESSENTIAL_NONZERO,
        ),
        no_match(
            "log-router exited 0, not 1",
            r#"{"detail":{"containers":{"name":["log-router"],"exitCode":[1]}}}"#,
            TASK_ESSENTIAL_NONZERO,
        ),
        matches(
            "a host port inside network bindings inside containers",
            r#"{"detail":{"containers":{"name":["nginx"],"networkBindings":{"containerPort":[443]}}}}"#,
            TASK_EC2_RUNNING,
        ),
        no_match(
            "port 443 belongs to nginx, not app",
            r#"{"detail":{"containers":{"name":["app"],"networkBindings":{"containerPort":[443]}}}}"#,
            TASK_EC2_RUNNING,
        ),
        // ---- User guide, "Content filtering": prefix matching (with equals-ignore-case).
        matches(
            "the guide's time prefix",
            r#"{"time":[{"prefix":"2017-10-02"}]}"#,
            r#"{"time":"2017-10-02T18:43:48Z"}"#,
        ),
        no_match(
            "a different day does not match the prefix",
            r#"{"time":[{"prefix":"2017-10-02"}]}"#,
            r#"{"time":"2017-10-03T18:43:48Z"}"#,
        ),
        no_match("prefix only matches strings", r#"{"a":[{"prefix":"1"}]}"#, r#"{"a":123}"#),
        no_match("prefix is case-sensitive", r#"{"source":[{"prefix":"AWS."}]}"#, EC2_EVENT),
        no_match(
            "a prefix longer than the value does not match",
            r#"{"a":[{"prefix":"abcd"}]}"#,
            r#"{"a":"abc"}"#,
        ),
        matches("an empty prefix matches any string", r#"{"a":[{"prefix":""}]}"#, r#"{"a":""}"#),
        no_match(
            "an empty prefix does not match a number",
            r#"{"a":[{"prefix":""}]}"#,
            r#"{"a":5}"#,
        ),
        matches(
            "a prefix matches an element of an array",
            r#"{"resources":[{"prefix":"arn:aws:ecs:us-east-1:111122223333:task/"}]}"#,
            TASK_ESSENTIAL_NONZERO,
        ),
        matches("a unicode prefix", r#"{"a":[{"prefix":"é"}]}"#, r#"{"a":"été"}"#),
        matches(
            "the guide's case-insensitive prefix EventB",
            r#"{"detail":{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}}"#,
            r#"{"detail":{"service":"eventbridge"}}"#,
        ),
        matches(
            "a case-insensitive prefix matches upper case",
            r#"{"a":[{"prefix":{"equals-ignore-case":"eventb"}}]}"#,
            r#"{"a":"EVENTBRIDGE"}"#,
        ),
        no_match(
            "a case-insensitive prefix still needs the letters",
            r#"{"a":[{"prefix":{"equals-ignore-case":"eventx"}}]}"#,
            r#"{"a":"eventbridge"}"#,
        ),
        no_match(
            "a case-insensitive prefix only matches strings",
            r#"{"a":[{"prefix":{"equals-ignore-case":"1"}}]}"#,
            r#"{"a":12}"#,
        ),
        // ---- User guide, "Content filtering": suffix matching (with equals-ignore-case).
        matches(
            "the guide's .png suffix",
            r#"{"FileName":[{"suffix":".png"}]}"#,
            r#"{"FileName":"image.png"}"#,
        ),
        no_match(
            "a suffix is case-sensitive",
            r#"{"FileName":[{"suffix":".png"}]}"#,
            r#"{"FileName":"image.PNG"}"#,
        ),
        matches(
            "the guide's case-insensitive .png suffix",
            r#"{"detail":{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}}"#,
            r#"{"detail":{"FileName":"image.PNG"}}"#,
        ),
        no_match(
            "a case-insensitive suffix still needs the letters",
            r#"{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}"#,
            r#"{"FileName":"image.jpg"}"#,
        ),
        no_match("suffix only matches strings", r#"{"a":[{"suffix":"3"}]}"#, r#"{"a":123}"#),
        matches("an empty suffix matches any string", r#"{"a":[{"suffix":""}]}"#, r#"{"a":"abc"}"#),
        no_match(
            "a suffix longer than the value does not match",
            r#"{"a":[{"suffix":"xabc"}]}"#,
            r#"{"a":"abc"}"#,
        ),
        // ---- User guide, "Comparison operators" (Equals, ignore case); event-ruler compares
        // ---- each operand character with its lower- and upper-case forms.
        matches(
            "the guide's Alice ignoring case",
            r#"{"Name":[{"equals-ignore-case":"alice"}]}"#,
            r#"{"Name":"Alice"}"#,
        ),
        no_match(
            "equals-ignore-case compares the whole value",
            r#"{"Name":[{"equals-ignore-case":"alice"}]}"#,
            r#"{"Name":"ALICE "}"#,
        ),
        no_match(
            "equals-ignore-case is not a prefix",
            r#"{"Name":[{"equals-ignore-case":"ali"}]}"#,
            r#"{"Name":"alice"}"#,
        ),
        matches(
            "equals-ignore-case with accented capitals",
            r#"{"a":[{"equals-ignore-case":"ÉCOLE"}]}"#,
            r#"{"a":"école"}"#,
        ),
        matches(
            "equals-ignore-case: ß may appear as SS",
            r#"{"a":[{"equals-ignore-case":"straße"}]}"#,
            r#"{"a":"STRASSE"}"#,
        ),
        no_match(
            "equals-ignore-case: only the operand offers case forms",
            r#"{"a":[{"equals-ignore-case":"STRASSE"}]}"#,
            r#"{"a":"straße"}"#,
        ),
        matches(
            "equals-ignore-case with Greek",
            r#"{"a":[{"equals-ignore-case":"Ωmega"}]}"#,
            r#"{"a":"ωMEGA"}"#,
        ),
        no_match(
            "equals-ignore-case: the Kelvin sign is not a k",
            r#"{"a":[{"equals-ignore-case":"k"}]}"#,
            r#"{"a":"\u212a"}"#,
        ),
        no_match(
            "equals-ignore-case only matches strings",
            r#"{"a":[{"equals-ignore-case":"5"}]}"#,
            r#"{"a":5}"#,
        ),
        matches(
            "an empty equals-ignore-case matches the empty string",
            r#"{"a":[{"equals-ignore-case":""}]}"#,
            r#"{"a":""}"#,
        ),
        matches(
            "equals-ignore-case matches an array element",
            r#"{"a":[{"equals-ignore-case":"alice"}]}"#,
            r#"{"a":["bob","ALICE"]}"#,
        ),
        // ---- User guide, "Content filtering": wildcard matching (`*`, `\*`, `\\`).
        matches(
            "event-ruler's Simple*Service",
            r#"{"source":[{"wildcard":"Simple*Service"}]}"#,
            r#"{"source":"SimpleQueueService"}"#,
        ),
        matches(
            "a wildcard may match nothing",
            r#"{"source":[{"wildcard":"Simple*Service"}]}"#,
            r#"{"source":"SimpleService"}"#,
        ),
        no_match(
            "a wildcard pattern is anchored at the end",
            r#"{"source":[{"wildcard":"Simple*Service"}]}"#,
            r#"{"source":"SimpleQueueServices"}"#,
        ),
        matches(
            "the guide's event bus ARN wildcard",
            r#"{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}"#,
            r#"{"EventBusArn":"arn:aws:events:us-east-1:123456789012:event-bus/default"}"#,
        ),
        no_match(
            "the event bus ARN wildcard in another region",
            r#"{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}"#,
            r#"{"EventBusArn":"arn:aws:events:us-west-2:123456789012:event-bus/default"}"#,
        ),
        matches("* matches the empty string", r#"{"a":[{"wildcard":"*"}]}"#, r#"{"a":""}"#),
        no_match("wildcard only matches strings", r#"{"a":[{"wildcard":"*"}]}"#, r#"{"a":5}"#),
        matches("several stars", r#"{"a":[{"wildcard":"a*b*c"}]}"#, r#"{"a":"aXbYc"}"#),
        no_match(
            "several stars keep their order",
            r#"{"a":[{"wildcard":"a*b*c"}]}"#,
            r#"{"a":"acb"}"#,
        ),
        no_match(
            "the ends of a wildcard do not overlap",
            r#"{"a":[{"wildcard":"ab*ba"}]}"#,
            r#"{"a":"aba"}"#,
        ),
        matches("\\* is a literal asterisk", r#"{"a":[{"wildcard":"a\\*b"}]}"#, r#"{"a":"a*b"}"#),
        no_match(
            "an escaped asterisk is not a wildcard",
            r#"{"a":[{"wildcard":"a\\*b"}]}"#,
            r#"{"a":"axb"}"#,
        ),
        matches(
            "\\\\ is a literal backslash",
            r#"{"a":[{"wildcard":"a\\\\b"}]}"#,
            r#"{"a":"a\\b"}"#,
        ),
        matches(
            "a literal asterisk followed by a wildcard",
            r#"{"a":[{"wildcard":"\\**"}]}"#,
            r#"{"a":"*abc"}"#,
        ),
        matches(
            "a wildcard without stars is an exact match",
            r#"{"a":[{"wildcard":"abc"}]}"#,
            r#"{"a":"abc"}"#,
        ),
        no_match(
            "a wildcard without stars matches nothing longer",
            r#"{"a":[{"wildcard":"abc"}]}"#,
            r#"{"a":"abcd"}"#,
        ),
        no_match("wildcards are case-sensitive", r#"{"a":[{"wildcard":"a*"}]}"#, r#"{"a":"Abc"}"#),
        matches(
            "a service group wildcard on an ECS task",
            r#"{"detail":{"group":[{"wildcard":"service:*"}]}}"#,
            TASK_ESSENTIAL_NONZERO,
        ),
        no_match(
            "a standalone task is not in a service group",
            r#"{"detail":{"group":[{"wildcard":"service:*"}]}}"#,
            TASK_STOPPED_BY_USER,
        ),
        // ---- User guide, "Content filtering": anything-but matching; event-ruler: any value
        // ---- that is not excluded matches, whatever its type; a missing field never does.
        matches(
            "the guide's anything-but initializing",
            r#"{"detail":{"state":[{"anything-but":"initializing"}]}}"#,
            RULER_EVENT,
        ),
        no_match(
            "anything-but excludes its value",
            r#"{"state":[{"anything-but":"initializing"}]}"#,
            r#"{"state":"initializing"}"#,
        ),
        no_match(
            "anything-but never matches a missing field",
            r#"{"state":[{"anything-but":"initializing"}]}"#,
            r#"{"status":"running"}"#,
        ),
        matches(
            "anything-but a string matches null",
            r#"{"state":[{"anything-but":"initializing"}]}"#,
            r#"{"state":null}"#,
        ),
        matches(
            "anything-but a string matches a number",
            r#"{"state":[{"anything-but":"5"}]}"#,
            r#"{"state":5}"#,
        ),
        no_match(
            "anything-but 123 excludes 123",
            r#"{"x":[{"anything-but":123}]}"#,
            r#"{"x":123}"#,
        ),
        no_match(
            "anything-but 123 excludes 123.0",
            r#"{"x":[{"anything-but":123}]}"#,
            r#"{"x":123.0}"#,
        ),
        matches("anything-but 123 matches 124", r#"{"x":[{"anything-but":123}]}"#, r#"{"x":124}"#),
        matches(
            "anything-but a number matches its string",
            r#"{"x":[{"anything-but":123}]}"#,
            r#"{"x":"123"}"#,
        ),
        no_match(
            "the guide's anything-but list excludes stopped",
            r#"{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}"#,
            r#"{"detail":{"state":"stopped"}}"#,
        ),
        matches(
            "the guide's anything-but list allows running",
            r#"{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}"#,
            RULER_EVENT,
        ),
        no_match(
            "the guide's anything-but number list excludes 200",
            r#"{"x":[{"anything-but":[100,200,300]}]}"#,
            r#"{"x":200}"#,
        ),
        matches(
            "the guide's anything-but number list allows 301.8",
            r#"{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}"#,
            RULER_EVENT,
        ),
        matches(
            "a number list does not exclude strings",
            r#"{"x":[{"anything-but":[100,200,300]}]}"#,
            r#"{"x":"200"}"#,
        ),
        matches(
            "anything-but a number matches a number out of the numeric range",
            r#"{"x":[{"anything-but":[100]}]}"#,
            r#"{"x":1e10}"#,
        ),
        matches(
            "anything-but on an array matches when one element is not excluded",
            r#"{"state":[{"anything-but":"stopped"}]}"#,
            r#"{"state":["stopped","running"]}"#,
        ),
        no_match(
            "anything-but on an array with only excluded elements",
            r#"{"state":[{"anything-but":"stopped"}]}"#,
            r#"{"state":["stopped","stopped"]}"#,
        ),
        no_match(
            "anything-but on an empty array",
            r#"{"state":[{"anything-but":"stopped"}]}"#,
            r#"{"state":[]}"#,
        ),
        no_match(
            "anything-but on an object field",
            r#"{"state":[{"anything-but":"stopped"}]}"#,
            r#"{"state":{"name":"running"}}"#,
        ),
        no_match(
            "the guide's anything-but prefix init excludes initializing",
            r#"{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}"#,
            r#"{"detail":{"state":"initializing"}}"#,
        ),
        matches(
            "anything-but prefix init allows running",
            r#"{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}"#,
            RULER_EVENT,
        ),
        matches(
            "anything-but a prefix list",
            r#"{"Region":[{"anything-but":{"prefix":["us-","eu-"]}}]}"#,
            r#"{"Region":"ap-south-1"}"#,
        ),
        no_match(
            "anything-but a prefix list excludes every prefix",
            r#"{"Region":[{"anything-but":{"prefix":["us-","eu-"]}}]}"#,
            r#"{"Region":"eu-west-1"}"#,
        ),
        matches(
            "anything-but prefix matches a number",
            r#"{"a":[{"anything-but":{"prefix":"1"}}]}"#,
            r#"{"a":123}"#,
        ),
        no_match(
            "the guide's anything-but suffix .png excludes a .png",
            r#"{"FileName":[{"anything-but":{"suffix":".png"}}]}"#,
            r#"{"FileName":"image.png"}"#,
        ),
        matches(
            "anything-but suffix .png allows a .jpg",
            r#"{"FileName":[{"anything-but":{"suffix":".png"}}]}"#,
            r#"{"FileName":"image.jpg"}"#,
        ),
        no_match(
            "anything-but a suffix list",
            r#"{"FileName":[{"anything-but":{"suffix":[".png",".jpg"]}}]}"#,
            r#"{"FileName":"image.jpg"}"#,
        ),
        no_match(
            "the guide's anything-but ignoring case excludes INITIALIZING",
            r#"{"state":[{"anything-but":{"equals-ignore-case":"initializing"}}]}"#,
            r#"{"state":"INITIALIZING"}"#,
        ),
        matches(
            "anything-but ignoring case allows running",
            r#"{"state":[{"anything-but":{"equals-ignore-case":"initializing"}}]}"#,
            r#"{"state":"running"}"#,
        ),
        no_match(
            "anything-but ignoring case with a list",
            r#"{"state":[{"anything-but":{"equals-ignore-case":["a","B"]}}]}"#,
            r#"{"state":"b"}"#,
        ),
        no_match(
            "anything-but ignoring case the empty string",
            r#"{"state":[{"anything-but":{"equals-ignore-case":""}}]}"#,
            r#"{"state":""}"#,
        ),
        no_match(
            "the guide's anything-but wildcard excludes a /lib/ path",
            r#"{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}"#,
            r#"{"FilePath":"/usr/lib/libc.so"}"#,
        ),
        matches(
            "anything-but wildcard allows another path",
            r#"{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}"#,
            r#"{"FilePath":"/usr/bin/env"}"#,
        ),
        no_match(
            "anything-but a wildcard list",
            r#"{"FilePath":[{"anything-but":{"wildcard":["*/lib/*","*.tmp"]}}]}"#,
            r#"{"FilePath":"/var/x.tmp"}"#,
        ),
        matches(
            "containers that did not exit with 0",
            r#"{"detail":{"containers":{"exitCode":[{"anything-but":0}]}}}"#,
            TASK_ESSENTIAL_NONZERO,
        ),
        no_match(
            "every container exited with 0",
            r#"{"detail":{"containers":{"exitCode":[{"anything-but":0}]}}}"#,
            TASK_ESSENTIAL_ZERO,
        ),
        no_match(
            "running containers have no exit code",
            r#"{"detail":{"containers":{"exitCode":[{"anything-but":0}]}}}"#,
            TASK_EC2_RUNNING,
        ),
        // ---- User guide, "Content filtering": numeric matching (within ±5.0e9, six decimals).
        matches(
            "the guide's numeric example",
            r#"{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"numeric":["=",3.018e2]}]}}"#,
            RULER_EVENT,
        ),
        no_match("> 0 excludes 0", r#"{"a":[{"numeric":[">",0]}]}"#, r#"{"a":0}"#),
        matches("> 0 includes 0.000001", r#"{"a":[{"numeric":[">",0]}]}"#, r#"{"a":0.000001}"#),
        matches(">= 5 includes 5", r#"{"a":[{"numeric":[">=",5]}]}"#, r#"{"a":5}"#),
        no_match("< 5 excludes 5", r#"{"a":[{"numeric":["<",5]}]}"#, r#"{"a":5}"#),
        matches("<= 5 includes 5.0", r#"{"a":[{"numeric":["<=",5]}]}"#, r#"{"a":5.0}"#),
        matches("= 5 matches 5.0", r#"{"a":[{"numeric":["=",5]}]}"#, r#"{"a":5.0}"#),
        no_match(
            "= 5 does not match 5.000001",
            r#"{"a":[{"numeric":["=",5]}]}"#,
            r#"{"a":5.000001}"#,
        ),
        matches("(0, 5] includes 5", r#"{"a":[{"numeric":[">",0,"<=",5]}]}"#, r#"{"a":5}"#),
        no_match(
            "(0, 5] excludes 5.000001",
            r#"{"a":[{"numeric":[">",0,"<=",5]}]}"#,
            r#"{"a":5.000001}"#,
        ),
        no_match("(0, 5] excludes 0", r#"{"a":[{"numeric":[">",0,"<=",5]}]}"#, r#"{"a":0}"#),
        matches("[0, 1) includes 0", r#"{"a":[{"numeric":[">=",0,"<",1]}]}"#, r#"{"a":0}"#),
        no_match("[0, 1) excludes 1", r#"{"a":[{"numeric":[">=",0,"<",1]}]}"#, r#"{"a":1}"#),
        matches("a negative range", r#"{"a":[{"numeric":[">",-10,"<",-5]}]}"#, r#"{"a":-7.5}"#),
        no_match(
            "numeric does not match a numeric string",
            r#"{"a":[{"numeric":[">",0]}]}"#,
            r#"{"a":"5"}"#,
        ),
        no_match(
            "numeric does not match a missing field",
            r#"{"a":[{"numeric":[">",0]}]}"#,
            r#"{"b":5}"#,
        ),
        no_match("numeric does not match null", r#"{"a":[{"numeric":[">",0]}]}"#, r#"{"a":null}"#),
        no_match("numeric does not match true", r#"{"a":[{"numeric":[">",0]}]}"#, r#"{"a":true}"#),
        matches(
            "numeric matches an array element",
            r#"{"a":[{"numeric":[">",10]}]}"#,
            r#"{"a":[1,20]}"#,
        ),
        matches(
            "the upper limit 5e9 is included",
            r#"{"a":[{"numeric":["<=",5e9]}]}"#,
            r#"{"a":5000000000}"#,
        ),
        matches(
            "the lower limit -5e9 is included",
            r#"{"a":[{"numeric":[">=",-5e9]}]}"#,
            r#"{"a":-5000000000}"#,
        ),
        no_match(
            "an event number beyond 5e9 is not compared",
            r#"{"a":[{"numeric":[">",0]}]}"#,
            r#"{"a":5000000001}"#,
        ),
        no_match(
            "an event number with seven decimals is not compared",
            r#"{"a":[{"numeric":["<",1]}]}"#,
            r#"{"a":0.9999999}"#,
        ),
        matches(
            "six decimals are compared exactly",
            r#"{"a":[{"numeric":["=",0.000001]}]}"#,
            r#"{"a":1e-6}"#,
        ),
        matches(
            "the largest numbers keep six decimals",
            r#"{"a":[{"numeric":[">",4999999999.999998]}]}"#,
            r#"{"a":4999999999.999999}"#,
        ),
        matches(
            "event-ruler's tiny closed range includes 3e-6",
            r#"{"a":[{"numeric":[">=",2.0e-6,"<=",4.0e-6]}]}"#,
            r#"{"a":3e-6}"#,
        ),
        no_match(
            "event-ruler's tiny closed range excludes 5e-6",
            r#"{"a":[{"numeric":[">=",2.0e-6,"<=",4.0e-6]}]}"#,
            r#"{"a":5e-6}"#,
        ),
        matches(
            "event-ruler's epoch timestamp range",
            r#"{"timestamp":[{"numeric":[">=",1628872008,"<=",1629044808]}]}"#,
            r#"{"timestamp":1628958408}"#,
        ),
        matches(
            "a numeric alternative next to exact values",
            r#"{"a":["none",{"numeric":[">",100]}]}"#,
            r#"{"a":150}"#,
        ),
        // ---- User guide, "Content filtering": IP address matching (cidr, IPv4 and IPv6).
        matches(
            "the guide's 10.0.0.0/24 contains 10.0.0.33",
            r#"{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}]}}"#,
            RULER_EVENT,
        ),
        no_match(
            "10.0.0.0/24 excludes 10.0.1.0",
            r#"{"ip":[{"cidr":"10.0.0.0/24"}]}"#,
            r#"{"ip":"10.0.1.0"}"#,
        ),
        matches(
            "the first address of a block",
            r#"{"ip":[{"cidr":"10.0.0.0/24"}]}"#,
            r#"{"ip":"10.0.0.0"}"#,
        ),
        matches(
            "the last address of a block",
            r#"{"ip":[{"cidr":"10.0.0.0/24"}]}"#,
            r#"{"ip":"10.0.0.255"}"#,
        ),
        no_match(
            "10.0.0.0/8 excludes 11.0.0.0",
            r#"{"ip":[{"cidr":"10.0.0.0/8"}]}"#,
            r#"{"ip":"11.0.0.0"}"#,
        ),
        matches(
            "host bits of the block are ignored",
            r#"{"ip":[{"cidr":"10.0.0.77/24"}]}"#,
            r#"{"ip":"10.0.0.1"}"#,
        ),
        matches(
            "/0 contains every IPv4 address",
            r#"{"ip":[{"cidr":"0.0.0.0/0"}]}"#,
            r#"{"ip":"255.255.255.255"}"#,
        ),
        matches(
            "/31 contains its pair",
            r#"{"ip":[{"cidr":"10.0.0.0/31"}]}"#,
            r#"{"ip":"10.0.0.1"}"#,
        ),
        no_match(
            "/31 excludes the next address",
            r#"{"ip":[{"cidr":"10.0.0.0/31"}]}"#,
            r#"{"ip":"10.0.0.2"}"#,
        ),
        matches(
            "an IPv6 block",
            r#"{"ip":[{"cidr":"2001:db8::/32"}]}"#,
            r#"{"ip":"2001:db8:ffff::1"}"#,
        ),
        no_match(
            "an IPv6 block excludes its neighbour",
            r#"{"ip":[{"cidr":"2001:db8::/32"}]}"#,
            r#"{"ip":"2001:db9::1"}"#,
        ),
        matches(
            "IPv6 addresses in any spelling",
            r#"{"ip":[{"cidr":"2001:db8::/64"}]}"#,
            r#"{"ip":"2001:DB8:0:0:0:0:0:1"}"#,
        ),
        matches("an IPv6 /127", r#"{"ip":[{"cidr":"::/127"}]}"#, r#"{"ip":"::1"}"#),
        no_match("an IPv6 /127 excludes ::2", r#"{"ip":[{"cidr":"::/127"}]}"#, r#"{"ip":"::2"}"#),
        no_match(
            "cidr does not match a host name",
            r#"{"ip":[{"cidr":"10.0.0.0/8"}]}"#,
            r#"{"ip":"not-an-ip"}"#,
        ),
        no_match(
            "cidr does not match a number",
            r#"{"ip":[{"cidr":"10.0.0.0/8"}]}"#,
            r#"{"ip":167772161}"#,
        ),
        no_match(
            "an IPv4 block excludes IPv6 addresses",
            r#"{"ip":[{"cidr":"0.0.0.0/0"}]}"#,
            r#"{"ip":"::1"}"#,
        ),
        matches(
            "an IPv4-mapped IPv6 address is its IPv4 address (Java InetAddress)",
            r#"{"ip":[{"cidr":"10.0.0.0/24"}]}"#,
            r#"{"ip":"::ffff:a00:21"}"#,
        ),
        matches(
            "IPv4 octets with leading zeros are decimal",
            r#"{"ip":[{"cidr":"10.0.0.0/24"}]}"#,
            r#"{"ip":"010.000.000.033"}"#,
        ),
        no_match(
            "an IPv6 address with a zone is not an address",
            r#"{"ip":[{"cidr":"fe80::/10"}]}"#,
            r#"{"ip":"fe80::1%eth0"}"#,
        ),
        matches(
            "the task's ENI address inside attachments details",
            r#"{"detail":{"attachments":{"details":{"name":["privateIPv4Address"],"value":[{"cidr":"10.0.0.0/24"}]}}}}"#,
            TASK_GUIDE_EXAMPLE,
        ),
        // ---- User guide, "Content filtering": exists matching (leaf nodes only).
        matches("exists true on a present field", r#"{"a":[{"exists":true}]}"#, r#"{"a":"x"}"#),
        no_match("exists true on a missing field", r#"{"a":[{"exists":true}]}"#, r#"{"b":"x"}"#),
        matches("exists false on a missing field", r#"{"a":[{"exists":false}]}"#, r#"{"b":"x"}"#),
        no_match("exists false on a present field", r#"{"a":[{"exists":false}]}"#, r#"{"a":"x"}"#),
        matches(
            "null is a leaf value for exists true",
            r#"{"a":[{"exists":true}]}"#,
            r#"{"a":null}"#,
        ),
        no_match(
            "null is a leaf value for exists false",
            r#"{"a":[{"exists":false}]}"#,
            r#"{"a":null}"#,
        ),
        matches(
            "the guide: exists false matches when c-count is missing",
            r#"{"detail":{"c-count":[{"exists":false}]}}"#,
            r#"{"detail":{"state":["initializing","running"]}}"#,
        ),
        matches(
            "the guide: exists false matches when c-count is not a leaf",
            r#"{"detail":{"c-count":[{"exists":false}]}}"#,
            r#"{"detail":{"state":["initializing","running"],"c-count":{"c1":100}}}"#,
        ),
        no_match(
            "exists true does not match an object",
            r#"{"detail":{"c-count":[{"exists":true}]}}"#,
            r#"{"detail":{"c-count":{"c1":100}}}"#,
        ),
        no_match(
            "exists true does not match an empty array",
            r#"{"a":[{"exists":true}]}"#,
            r#"{"a":[]}"#,
        ),
        matches(
            "exists false matches an empty array",
            r#"{"a":[{"exists":false}]}"#,
            r#"{"a":[]}"#,
        ),
        matches(
            "exists true matches an array of scalars",
            r#"{"a":[{"exists":true}]}"#,
            r#"{"a":[1]}"#,
        ),
        no_match(
            "exists true does not match an array of objects",
            r#"{"a":[{"exists":true}]}"#,
            r#"{"a":[{"b":1}]}"#,
        ),
        matches(
            "exists false under a missing parent",
            r#"{"detail":{"x":{"y":[{"exists":false}]}}}"#,
            r#"{"detail":{"state":"x"}}"#,
        ),
        matches(
            "exists false when the parent is a string",
            r#"{"a":{"b":[{"exists":false}]}}"#,
            r#"{"a":"text"}"#,
        ),
        matches(
            "exists true inside an array of objects",
            r#"{"detail":{"containers":{"reason":[{"exists":true}]}}}"#,
            TASK_OOM_KILLED,
        ),
        no_match(
            "exists false: one container has a reason",
            r#"{"detail":{"containers":{"reason":[{"exists":false}]}}}"#,
            TASK_OOM_KILLED,
        ),
        matches(
            "exists false: no container has a reason",
            r#"{"detail":{"containers":{"reason":[{"exists":false}]}}}"#,
            TASK_ESSENTIAL_NONZERO,
        ),
        no_match(
            "exists false alone must hold for every array element",
            r#"{"a":{"b":[{"exists":false}]}}"#,
            r#"{"a":[{"c":2},{"b":1}]}"#,
        ),
        // event-ruler checks fields in name order; with the value field first, the absence is
        // checked in the array element the value came from.
        matches(
            "exists false next to a value holds in the element with the value",
            r#"{"a":{"b":["y"],"z":[{"exists":false}]}}"#,
            r#"{"a":[{"b":"x","z":1},{"b":"y"}]}"#,
        ),
        no_match(
            "exists false next to a value fails in the element with the value",
            r#"{"a":{"b":["x"],"z":[{"exists":false}]}}"#,
            r#"{"a":[{"b":"x","z":1},{"b":"y"}]}"#,
        ),
        matches("a value or absence: absent", r#"{"a":["x",{"exists":false}]}"#, r#"{"b":1}"#),
        no_match(
            "a value or absence: another value",
            r#"{"a":["x",{"exists":false}]}"#,
            r#"{"a":"y"}"#,
        ),
        matches(
            "a running task has no stop code",
            r#"{"detail":{"stopCode":[{"exists":false}]}}"#,
            TASK_EC2_RUNNING,
        ),
        matches(
            "anything-but or exists false covers a missing field",
            r#"{"a":[{"anything-but":"x"},{"exists":false}]}"#,
            r#"{}"#,
        ),
        // ---- User guide, "Comparison operators" ($or) and event-ruler README ("$or").
        matches(
            "the guide's numeric $or",
            r#"{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]},{"x-limit":[{"numeric":["=",3.018e2]}]}]}}"#,
            r#"{"detail":{"d-count":8}}"#,
        ),
        no_match(
            "no $or branch holds",
            r#"{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]}]}}"#,
            r#"{"detail":{"c-count":9,"d-count":10}}"#,
        ),
        matches(
            "source and (metricName or namespace)",
            r#"{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}]}"#,
            r#"{"source":"aws.cloudwatch","namespace":"AWS/ES"}"#,
        ),
        no_match(
            "$or does not excuse the other fields",
            r#"{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}]}"#,
            r#"{"source":"aws.ec2","namespace":"AWS/EC2"}"#,
        ),
        matches(
            "parallel $or groups each hold",
            r#"{"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}],"detail":{"$or":[{"source":["aws.cloudwatch"]},{"detail-type":["CloudWatch Alarm State Change"]}]}}"#,
            r#"{"namespace":"AWS/EC2","detail":{"detail-type":"CloudWatch Alarm State Change"}}"#,
        ),
        no_match(
            "one parallel $or group fails",
            r#"{"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}],"detail":{"$or":[{"source":["aws.cloudwatch"]},{"detail-type":["CloudWatch Alarm State Change"]}]}}"#,
            r#"{"namespace":"AWS/EC2","detail":{"detail-type":"other"}}"#,
        ),
        matches(
            "an AND inside a $or branch",
            r#"{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"namespace":["AWS/EC2"]},{"scope":["Service"]}]}"#,
            r#"{"source":"aws.cloudwatch","metricType":"MetricType","namespace":"AWS/EC2"}"#,
        ),
        no_match(
            "a $or branch needs all its fields",
            r#"{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"namespace":["AWS/EC2"]}]}"#,
            r#"{"source":"aws.cloudwatch","metricType":"MetricType","namespace":"AWS/ES"}"#,
        ),
        matches(
            "nested $or",
            r#"{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]}]}"#,
            r#"{"source":"aws.cloudwatch","metricType":"MetricType","spaceId":1000}"#,
        ),
        no_match(
            "nested $or with no inner branch",
            r#"{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]}]}"#,
            r#"{"source":"aws.cloudwatch","metricType":"MetricType","spaceId":1001}"#,
        ),
        matches(
            "$or branches with nested objects",
            r#"{"$or":[{"detail":{"lastStatus":["STOPPED"]}},{"detail":{"desiredStatus":["STOPPED"]}}]}"#,
            TASK_SPOT_STOPPED,
        ),
        matches(
            "the same field in two $or branches",
            r#"{"$or":[{"a":["1"]},{"a":["2"]}]}"#,
            r#"{"a":"2"}"#,
        ),
        matches(
            "a $or branch of only exists false",
            r#"{"$or":[{"a":[{"exists":false}]},{"b":["x"]}]}"#,
            r#"{"c":1}"#,
        ),
        no_match(
            "$or branches whose fields are all missing",
            r#"{"$or":[{"a":["1"]},{"b":["2"]}]}"#,
            r#"{"c":"1"}"#,
        ),
        // ---- Amazon ECS Developer Guide, "Sending Amazon SNS alerts for task stopped events",
        // ---- against the captured corpus in events/.
        matches(
            "the ECS stopped-task rule: essential container exited non-zero",
            ECS_STOPPED_TASK_RULE,
            TASK_ESSENTIAL_NONZERO,
        ),
        matches("the ECS stopped-task rule: OOM-killed", ECS_STOPPED_TASK_RULE, TASK_OOM_KILLED),
        matches(
            "the ECS stopped-task rule: essential container exited zero",
            ECS_STOPPED_TASK_RULE,
            TASK_ESSENTIAL_ZERO,
        ),
        matches("the ECS stopped-task rule: storm scenario", ECS_STOPPED_TASK_RULE, STORM_STOPPED),
        no_match(
            "the ECS stopped-task rule: stopped by user",
            ECS_STOPPED_TASK_RULE,
            TASK_STOPPED_BY_USER,
        ),
        no_match(
            "the ECS stopped-task rule: user-initiated in the storm",
            ECS_STOPPED_TASK_RULE,
            STORM_USER_STOPPED,
        ),
        no_match(
            "the ECS stopped-task rule: running EC2 task",
            ECS_STOPPED_TASK_RULE,
            TASK_EC2_RUNNING,
        ),
        no_match(
            "the ECS stopped-task rule: the guide's running task",
            ECS_STOPPED_TASK_RULE,
            TASK_GUIDE_EXAMPLE,
        ),
        no_match(
            "the ECS stopped-task rule: spot interruption",
            ECS_STOPPED_TASK_RULE,
            TASK_SPOT_STOPPED,
        ),
        no_match("the ECS stopped-task rule: scale-in", ECS_STOPPED_TASK_RULE, TASK_SCALED_IN),
        no_match(
            "the ECS stopped-task rule: image pull failure",
            ECS_STOPPED_TASK_RULE,
            TASK_CANNOT_PULL,
        ),
        no_match(
            "the ECS stopped-task rule: container instance event",
            ECS_STOPPED_TASK_RULE,
            CONTAINER_INSTANCE_GUIDE_EXAMPLE,
        ),
        no_match(
            "the ECS stopped-task rule: deployment event",
            ECS_STOPPED_TASK_RULE,
            DEPLOYMENT_COMPLETED,
        ),
        matches(
            "every stopped task",
            r#"{"source":["aws.ecs"],"detail-type":["ECS Task State Change"],"detail":{"lastStatus":["STOPPED"]}}"#,
            TASK_STOPPED_BY_USER,
        ),
        matches(
            "stopped tasks not stopped by a user",
            r#"{"source":["aws.ecs"],"detail":{"lastStatus":["STOPPED"],"stopCode":[{"anything-but":"UserInitiated"}]}}"#,
            TASK_SCALED_IN,
        ),
        no_match(
            "a user stop is excluded",
            r#"{"source":["aws.ecs"],"detail":{"lastStatus":["STOPPED"],"stopCode":[{"anything-but":"UserInitiated"}]}}"#,
            TASK_STOPPED_BY_USER,
        ),
        matches(
            "stopped reasons starting with CannotPullContainerError",
            r#"{"detail":{"stoppedReason":[{"prefix":"CannotPullContainerError"}]}}"#,
            TASK_CANNOT_PULL,
        ),
        // ---- Validation, as EventBridge refuses patterns (PutRule / TestEventPattern return
        // ---- "Event pattern is not valid"); messages are ours, paths name the field.
        error("a pattern must be an object, not an array", "[1,2]", "", "must be a JSON object"),
        error(
            "a pattern must be an object, not a string",
            r#""aws.ec2""#,
            "",
            "must be a JSON object",
        ),
        error("invalid JSON", r#"{"source":["aws.ec2"]"#, "", "invalid JSON"),
        error("an empty pattern", "{}", "", "empty objects are not allowed"),
        error(
            "a field that is a string",
            r#"{"source":"aws.ec2"}"#,
            "source",
            "must be an object or an array",
        ),
        error(
            "a field that is a number",
            r#"{"detail":{"version":5}}"#,
            "detail.version",
            "found a number",
        ),
        error("a field that is null", r#"{"a":null}"#, "a", "found null"),
        error("a field that is a boolean", r#"{"a":true}"#, "a", "found a boolean"),
        error(
            "an empty nested object",
            r#"{"detail":{}}"#,
            "detail",
            "empty objects are not allowed",
        ),
        error(
            "an empty value list",
            r#"{"detail":{"state":[]}}"#,
            "detail.state",
            "empty arrays are not allowed",
        ),
        error("a list inside a value list", r#"{"a":[["x"]]}"#, "a", "found an array"),
        error(
            "an empty match expression",
            r#"{"a":[{}]}"#,
            "a",
            "exactly one operator, found none",
        ),
        error(
            "two operators in one match expression",
            r#"{"a":[{"prefix":"x","suffix":"y"}]}"#,
            "a",
            "exactly one operator",
        ),
        error(
            "an unknown operator",
            r#"{"detail":{"stoppedReason":[{"sufix":"x"}]}}"#,
            "detail.stoppedReason",
            "unknown operator \"sufix\"",
        ),
        error(
            "a nested field object inside a value list",
            r#"{"a":[{"x":2}]}"#,
            "a",
            "unknown operator \"x\"",
        ),
        error(
            "the undocumented exactly operator",
            r#"{"a":[{"exactly":"x"}]}"#,
            "a",
            "unknown operator",
        ),
        error("prefix with a number", r#"{"a":[{"prefix":3}]}"#, "a", "prefix needs a string"),
        error("prefix with a list", r#"{"a":[{"prefix":["x"]}]}"#, "a", "prefix needs a string"),
        error(
            "prefix equals-ignore-case with a number",
            r#"{"a":[{"prefix":{"equals-ignore-case":5}}]}"#,
            "a",
            "equals-ignore-case needs a string",
        ),
        error(
            "prefix with another nested operator",
            r#"{"a":[{"prefix":{"wildcard":"x*"}}]}"#,
            "a",
            "prefix needs a string or {\"equals-ignore-case\"",
        ),
        error(
            "prefix equals-ignore-case with a second key",
            r#"{"a":[{"prefix":{"equals-ignore-case":"a","test":"b"}}]}"#,
            "a",
            "prefix needs a string or",
        ),
        error("suffix with a number", r#"{"a":[{"suffix":3}]}"#, "a", "suffix needs a string"),
        error(
            "suffix equals-ignore-case with a list",
            r#"{"a":[{"suffix":{"equals-ignore-case":["abc"]}}]}"#,
            "a",
            "equals-ignore-case needs a string",
        ),
        error(
            "equals-ignore-case with a number",
            r#"{"a":[{"equals-ignore-case":5}]}"#,
            "a",
            "equals-ignore-case needs a string",
        ),
        error(
            "equals-ignore-case with a list",
            r#"{"a":[{"equals-ignore-case":["abc"]}]}"#,
            "a",
            "needs a string",
        ),
        error(
            "wildcard with a number",
            r#"{"a":[{"wildcard":5}]}"#,
            "a",
            "wildcard needs a string",
        ),
        error(
            "wildcard with consecutive stars",
            r#"{"a":[{"wildcard":"abc**def"}]}"#,
            "a",
            "consecutive '*' at position 4",
        ),
        error("wildcard of only two stars", r#"{"a":[{"wildcard":"**"}]}"#, "a", "consecutive '*'"),
        error(
            "wildcard escaping a letter",
            r#"{"key":[{"wildcard":"a*c\\def"}]}"#,
            "key",
            "invalid escape at position 4",
        ),
        error(
            "wildcard ending in a backslash",
            r#"{"a":[{"wildcard":"foo*bar\\"}]}"#,
            "a",
            "invalid escape",
        ),
        error("numeric with a number", r#"{"a":[{"numeric":5}]}"#, "a", "numeric needs an array"),
        error(
            "numeric with an empty list",
            r#"{"a":[{"numeric":[]}]}"#,
            "a",
            "numeric needs an operator",
        ),
        error(
            "numeric with ==",
            r#"{"a":[{"numeric":["==",1]}]}"#,
            "a",
            "unknown numeric operator \"==\"",
        ),
        error(
            "numeric with <>",
            r#"{"a":[{"numeric":["<>",1,">",0]}]}"#,
            "a",
            "unknown numeric operator",
        ),
        error(
            "numeric without a number",
            r#"{"a":[{"numeric":[">"]}]}"#,
            "a",
            "needs a number after it",
        ),
        error(
            "numeric with a string number",
            r#"{"a":[{"numeric":[">","5"]}]}"#,
            "a",
            "must be a number, found a string",
        ),
        error(
            "numeric with a boolean",
            r#"{"a":[{"numeric":["=",true]}]}"#,
            "a",
            "must be a number",
        ),
        error("numeric above 5e9", r#"{"a":[{"numeric":[">",5000000001]}]}"#, "a", "out of range"),
        error("numeric below -5e9", r#"{"a":[{"numeric":["<",-5.1e9]}]}"#, "a", "out of range"),
        error(
            "numeric with seven decimals",
            r#"{"a":[{"numeric":["=",0.0000001]}]}"#,
            "a",
            "at most 6 decimal places",
        ),
        error("numeric with 1E-320", r#"{"a":[{"numeric":["<",1E-320]}]}"#, "a", "out of range"),
        error(
            "numeric with the upper bound first",
            r#"{"a":[{"numeric":["<",1,">",0]}]}"#,
            "a",
            "too many terms",
        ),
        error(
            "numeric with = and a range",
            r#"{"a":[{"numeric":["=",1,"<",2]}]}"#,
            "a",
            "too many terms",
        ),
        error(
            "numeric with an empty range",
            r#"{"a":[{"numeric":[">",30,"<",1]}]}"#,
            "a",
            "range is empty",
        ),
        error(
            "numeric with equal bounds",
            r#"{"a":[{"numeric":[">=",1,"<=",1]}]}"#,
            "a",
            "range is empty",
        ),
        error(
            "numeric with two lower bounds",
            r#"{"a":[{"numeric":[">",0,">",5]}]}"#,
            "a",
            "upper bound must use",
        ),
        error(
            "numeric without the upper number",
            r#"{"a":[{"numeric":[">",0,"<"]}]}"#,
            "a",
            "needs a number after it",
        ),
        error(
            "numeric with a fifth term",
            r#"{"a":[{"numeric":[">",1,"<",30,false]}]}"#,
            "a",
            "too many terms",
        ),
        error(
            "numeric starting with a number",
            r#"{"a":[{"numeric":[5,">"]}]}"#,
            "a",
            "expects an operator at position 1",
        ),
        error(
            "numeric with a second key",
            r#"{"a":[{"numeric":[">",0],"x":1}]}"#,
            "a",
            "exactly one operator",
        ),
        error(
            "exists with a string",
            r#"{"a":[{"exists":"true"}]}"#,
            "a",
            "exists must be true or false",
        ),
        error(
            "exists with a number",
            r#"{"detail":{"a":[{"exists":1}]}}"#,
            "detail.a",
            "exists must be true or false",
        ),
        error(
            "exists with a second key",
            r#"{"a":[{"exists":true,"x":1}]}"#,
            "a",
            "exactly one operator",
        ),
        error(
            "cidr without a mask",
            r#"{"ip":[{"cidr":"10.0.0.0"}]}"#,
            "ip",
            "one '/' is required",
        ),
        error(
            "cidr with an empty mask",
            r#"{"ip":[{"cidr":"10.0.0.0/"}]}"#,
            "ip",
            "mask bits must be an integer",
        ),
        error(
            "cidr with two masks",
            r#"{"ip":[{"cidr":"10.0.0.0/8/8"}]}"#,
            "ip",
            "one '/' is required",
        ),
        error(
            "cidr with a /33",
            r#"{"ip":[{"cidr":"10.0.0.0/33"}]}"#,
            "ip",
            "IPv4 mask bits must be < 32",
        ),
        error(
            "cidr with a /32 (EventBridge refuses it)",
            r#"{"ip":[{"cidr":"10.0.0.1/32"}]}"#,
            "ip",
            "IPv4 mask bits must be < 32",
        ),
        error(
            "cidr with an IPv6 /128",
            r#"{"ip":[{"cidr":"2001:db8::1/128"}]}"#,
            "ip",
            "IPv6 mask bits must be < 128",
        ),
        error(
            "cidr with an octet above 255",
            r#"{"ip":[{"cidr":"10.0.0.256/8"}]}"#,
            "ip",
            "invalid IP address",
        ),
        error("cidr with a host name", r#"{"ip":[{"cidr":"foo/8"}]}"#, "ip", "invalid IP address"),
        error(
            "cidr with a letter mask",
            r#"{"ip":[{"cidr":"10.0.0.0/x"}]}"#,
            "ip",
            "mask bits must be an integer",
        ),
        error(
            "cidr with a negative mask",
            r#"{"ip":[{"cidr":"10.0.0.0/-1"}]}"#,
            "ip",
            "must not be negative",
        ),
        error("cidr with a number", r#"{"ip":[{"cidr":10}]}"#, "ip", "cidr needs a string"),
        error(
            "nested anything-but",
            r#"{"a":[{"anything-but":{"anything-but":"x"}}]}"#,
            "a",
            "anything-but cannot be nested",
        ),
        error(
            "anything-but an empty list",
            r#"{"a":[{"anything-but":[]}]}"#,
            "a",
            "must not be empty",
        ),
        error(
            "anything-but a mixed list",
            r#"{"a":[{"anything-but":["child0",111,"child2"]}]}"#,
            "a",
            "only strings or only numbers",
        ),
        error(
            "anything-but a list with null",
            r#"{"a":[{"anything-but":[null]}]}"#,
            "a",
            "only hold strings or numbers",
        ),
        error(
            "anything-but true",
            r#"{"a":[{"anything-but":true}]}"#,
            "a",
            "anything-but needs a string",
        ),
        error("anything-but null", r#"{"a":[{"anything-but":null}]}"#, "a", "found null"),
        error(
            "anything-but an empty prefix",
            r#"{"a":[{"anything-but":{"prefix":""}}]}"#,
            "a",
            "must not be an empty string",
        ),
        error(
            "anything-but a suffix list with an empty string",
            r#"{"a":[{"anything-but":{"suffix":["1",""]}}]}"#,
            "a",
            "must not be an empty string",
        ),
        error(
            "anything-but prefix with a number",
            r#"{"a":[{"anything-but":{"prefix":27}}]}"#,
            "a",
            "needs a string or a list of strings",
        ),
        error(
            "anything-but prefix with numbers",
            r#"{"a":[{"anything-but":{"prefix":[1,2,3]}}]}"#,
            "a",
            "values must be strings",
        ),
        error(
            "anything-but an empty prefix list",
            r#"{"a":[{"anything-but":{"prefix":[]}}]}"#,
            "a",
            "list must not be empty",
        ),
        error(
            "anything-but numeric",
            r#"{"a":[{"anything-but":{"numeric":[">",1]}}]}"#,
            "a",
            "anything-but does not support \"numeric\"",
        ),
        error(
            "anything-but exists",
            r#"{"a":[{"anything-but":{"exists":true}}]}"#,
            "a",
            "does not support",
        ),
        error(
            "anything-but an object with two keys",
            r#"{"a":[{"anything-but":{"prefix":"foo","a":1}}]}"#,
            "a",
            "exactly one of",
        ),
        error(
            "anything-but an empty object",
            r#"{"a":[{"anything-but":{}}]}"#,
            "a",
            "exactly one of",
        ),
        error(
            "anything-but a second key",
            r#"{"a":[{"anything-but":"child","foo":[]}]}"#,
            "a",
            "exactly one operator",
        ),
        error(
            "anything-but an invalid wildcard",
            r#"{"a":[{"anything-but":{"wildcard":["1","foo**bar"]}}]}"#,
            "a",
            "consecutive '*'",
        ),
        error(
            "anything-but ignoring case with numbers",
            r#"{"a":[{"anything-but":{"equals-ignore-case":[1,2,3]}}]}"#,
            "a",
            "values must be strings",
        ),
        error(
            "anything-but a number above 5e9",
            r#"{"a":[{"anything-but":5000000001}]}"#,
            "a",
            "out of range",
        ),
        error(
            "anything-but a number with seven decimals",
            r#"{"a":[{"anything-but":[1.0000001]}]}"#,
            "a",
            "out of range",
        ),
        error(
            "$or with an object",
            r#"{"$or":{"a":["x"]}}"#,
            "$or",
            "must be an array of at least two objects",
        ),
        error("$or with an empty list", r#"{"$or":[]}"#, "$or", "at least two objects, found 0"),
        error(
            "$or with one object",
            r#"{"$or":[{"a":["x"]}]}"#,
            "$or",
            "at least two objects, found 1",
        ),
        error(
            "a nested $or with one object",
            r#"{"detail":{"$or":[{"a":["x"]}]}}"#,
            "detail.$or",
            "found 1",
        ),
        error(
            "$or with a string",
            r#"{"$or":[{"a":["x"]},"b"]}"#,
            "$or",
            "may only hold objects, found a string at index 1",
        ),
        error(
            "$or with an empty object",
            r#"{"detail":{"$or":[{},{"a":["x"]}]}}"#,
            "detail",
            "empty objects are not allowed",
        ),
        error(
            "$or branch with an invalid operator",
            r#"{"detail":{"$or":[{"a":["x"]},{"b":[{"numeric":[">","1"]}]}]}}"#,
            "detail.b",
            "must be a number",
        ),
        error(
            "an operator name as a field name inside $or",
            r#"{"$or":[{"numeric":[123]},{"prefix":["abc"]}]}"#,
            "numeric",
            "reserved keyword",
        ),
        error(
            "an operator name deep inside $or",
            r#"{"$or":[{"a":{"cidr":["x"]}},{"b":["y"]}]}"#,
            "a.cidr",
            "reserved keyword",
        ),
        error(
            "a field constrained inside and outside $or",
            r#"{"name":["a","b"],"$or":[{"name":[{"anything-but":"a"}]},{"condition1":["x"]}]}"#,
            "name",
            "matched more than once",
        ),
        error(
            "a field constrained as a value and as an object",
            r#"{"a":["1"],"$or":[{"a":{"b":["2"]}},{"c":["3"]}]}"#,
            "a.b",
            "both as a value (at a) and as an object",
        ),
        error(
            "a field constrained in nested $or",
            r#"{"$or":[{"a":["1"],"$or":[{"a":["2"]},{"b":["3"]}]},{"c":["4"]}]}"#,
            "a",
            "matched more than once",
        ),
        // ---- This engine's limits (module documentation, "Limits").
        matches("32 levels of nesting", nested_pattern(32), nested_event(32)),
        error(
            "33 levels of nesting",
            nested_pattern(33),
            leak(vec!["a"; 32].join(".")),
            "nests deeper than 32",
        ),
        matches("1024 values", many_values(1024), r#"{"a":"v1023"}"#),
        error("1025 values", many_values(1025), "a", "more than 1024 values"),
        matches(
            "1000 $or combinations",
            or_product(&[10, 10, 10]),
            r#"{"f0":{"k3":"v"},"f1":{"k9":"v"},"f2":{"k0":"v"}}"#,
        ),
        error(
            "1001 and more $or combinations",
            or_product(&[10, 10, 10, 2]),
            "",
            "more than 1000 combinations",
        ),
    ]
}

fn check(case: &Case) -> Result<(), String> {
    let compiled = Pattern::from_json(&case.pattern);
    match (&case.expect, compiled) {
        (Expect::Error { path, contains }, Err(error)) => {
            if error.path() != *path {
                return Err(format!("error at {:?}, expected at {path:?}: {error}", error.path()));
            }
            if !error.message().contains(contains) {
                return Err(format!("error message does not contain {contains:?}: {error}"));
            }
            if error.kind() == PatternErrorKind::Json && *contains != "invalid JSON" {
                return Err(format!("unexpected JSON error: {error}"));
            }
            Ok(())
        }
        (Expect::Error { .. }, Ok(pattern)) => {
            Err(format!("compiled, expected an error: {:?}", pattern.source()))
        }
        (expect, Err(error)) => Err(format!("expected {expect:?}, failed to compile: {error}")),
        (expect, Ok(pattern)) => {
            let event: Value = serde_json::from_str(&case.event)
                .map_err(|error| format!("the case's event is not JSON: {error}"))?;
            let wanted = matches!(expect, Expect::Match);
            let got = pattern.matches(&event);
            if got != wanted {
                return Err(format!(
                    "expected {expect:?}, got {}",
                    if got { "Match" } else { "NoMatch" }
                ));
            }
            let from_bytes = pattern.matches_slice(case.event.as_bytes());
            if from_bytes.as_ref().ok() != Some(&got) {
                return Err(format!("matches_slice disagrees: {from_bytes:?}"));
            }
            let reparsed: Pattern = case.pattern.parse().map_err(|e| format!("FromStr: {e}"))?;
            if reparsed.matches(&event) != got || pattern.source() != reparsed.source() {
                return Err("FromStr disagrees".into());
            }
            Ok(())
        }
    }
}

#[test]
fn every_conformance_case_behaves_like_eventbridge() {
    let cases = cases();
    assert!(cases.len() >= 170, "only {} cases", cases.len());
    let mut names = HashSet::new();
    let duplicates: Vec<&str> =
        cases.iter().map(|c| c.name).filter(|n| !names.insert(*n)).collect();
    assert!(duplicates.is_empty(), "duplicate case names: {duplicates:?}");

    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| check(case).err().map(|why| format!("  {}: {why}", case.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} conformance cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn an_error_displays_the_path_then_the_message() {
    let error = Pattern::from_json(r#"{"detail":{"stoppedReason":[{"sufix":"x"}]}}"#)
        .expect_err("sufix is not an operator");
    assert_eq!(error.to_string(), r#"detail.stoppedReason: unknown operator "sufix""#);
    assert_eq!(error.kind(), PatternErrorKind::UnknownOperator);

    let error = Pattern::from_json("[]").expect_err("not an object");
    assert!(error.to_string().starts_with("<pattern>: "), "{error}");
}

#[test]
fn the_source_is_the_pattern_as_given() {
    let text = ECS_STOPPED_TASK_RULE;
    let pattern = Pattern::from_json(text).expect("valid");
    let value: Value = serde_json::from_str(text).expect("JSON");
    assert_eq!(pattern.source(), &value);
    assert_eq!(Pattern::compile(&value).expect("valid").source(), &value);
}

#[test]
fn matches_slice_reports_invalid_json() {
    let pattern = Pattern::from_json(ECS_STOPPED_TASK_RULE).expect("valid");
    assert!(pattern.matches_slice(b"{\"source\":").is_err());
    assert_eq!(pattern.matches_slice(b"\"aws.ecs\"").ok(), Some(false));
}

#[test]
fn a_pattern_is_cheap_to_clone_and_shared_across_threads() {
    fn assert_traits<T: Clone + std::fmt::Debug + Send + Sync + 'static>() {}
    assert_traits::<Pattern>();
    let pattern = Pattern::from_json(ECS_STOPPED_TASK_RULE).expect("valid");
    let event: Value = serde_json::from_str(TASK_OOM_KILLED).expect("JSON");
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (pattern, event) = (pattern.clone(), event.clone());
            std::thread::spawn(move || pattern.matches(&event))
        })
        .collect();
    for handle in handles {
        assert!(handle.join().expect("matching does not panic"));
    }
    assert!(format!("{pattern:?}").contains("\"aws.ecs\""));
}

/// Every scalar in `value` (a pattern's source), with near misses of each: another case, a
/// longer string, a neighbouring number.
fn literals_and_near_misses(value: &Value, pool: &mut Vec<Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| literals_and_near_misses(item, pool)),
        Value::Object(fields) => {
            fields.values().for_each(|item| literals_and_near_misses(item, pool))
        }
        Value::String(text) => pool.extend([
            json!(text),
            json!(text.to_uppercase()),
            json!(format!("{text}x")),
            json!(format!("x{text}")),
        ]),
        Value::Number(number) => {
            let float = number.as_f64().unwrap_or_default();
            pool.extend([json!(number), json!(float), json!(float + 1.0), json!(-float)]);
        }
        scalar => pool.push(scalar.clone()),
    }
}

/// The paths of a pattern read from its source, the test's own way: a field holding an array
/// is a path, a field holding an object leads on, and `$or` branches continue the path of the
/// object holding them.
fn source_paths<'a>(pattern: &'a Value, prefix: &mut Vec<&'a str>, paths: &mut Vec<Vec<&'a str>>) {
    let Value::Object(fields) = pattern else { return };
    for (name, value) in fields {
        match (name.as_str(), value) {
            ("$or", Value::Array(branches)) => {
                branches.iter().for_each(|branch| source_paths(branch, prefix, paths));
            }
            (name, value) => {
                prefix.push(name);
                if value.is_array() {
                    paths.push(prefix.clone());
                }
                source_paths(value, prefix, paths);
                prefix.pop();
            }
        }
    }
}

/// Reads an event's shape from generated bytes: each choice takes the next byte (0 once they
/// run out).
struct Choices<'a>(std::slice::Iter<'a, u8>);

impl Choices<'_> {
    fn pick(&mut self, among: usize) -> usize {
        self.0.next().map_or(0, |byte| usize::from(*byte) % among)
    }
}

/// An event value at a place the pattern reads below along `tails` (an empty tail: the
/// pattern reads the value here): an object with some of the fields the tails name next and
/// one it never reads, an array of such values, or a scalar from `pool`.
fn shaped_value(tails: &[&[&str]], pool: &[Value], choices: &mut Choices, depth: usize) -> Value {
    // The event itself is an object: anything else never matches.
    match if depth == 0 { 5 } else { choices.pick(6) } {
        0 | 1 => pool[choices.pick(pool.len())].clone(),
        2 if depth < 6 => {
            let count = choices.pick(4);
            Value::Array(
                (0..count).map(|_| shaped_value(tails, pool, choices, depth + 1)).collect(),
            )
        }
        _ => {
            let mut object = serde_json::Map::new();
            for (first, _) in tails.iter().filter_map(|tail| tail.split_first()) {
                if depth < 6 && choices.pick(4) != 0 && !object.contains_key(*first) {
                    let below = support::below(tails, first);
                    let value = shaped_value(&below, pool, choices, depth + 1);
                    object.insert((*first).to_owned(), value);
                }
            }
            if choices.pick(2) == 0 {
                object.insert("unread".to_owned(), pool[choices.pick(pool.len())].clone());
            }
            Value::Object(object)
        }
    }
}

#[test]
fn every_conformance_pattern_reads_nothing_but_its_paths() {
    let patterns: Vec<(&str, Pattern, Value)> = cases()
        .into_iter()
        .filter_map(|case| {
            let pattern = Pattern::from_json(&case.pattern).ok()?;
            Some((case.name, pattern, serde_json::from_str(&case.event).ok()?))
        })
        .collect();
    assert!(patterns.len() >= 250, "only {} valid conformance patterns", patterns.len());
    // GIVEN each case's own event WHEN it is reduced to the pattern's paths THEN the result
    // stays the same; and the paths are those read from the source.
    for (name, pattern, event) in &patterns {
        let paths = pattern.paths();
        let mut expected = Vec::new();
        source_paths(pattern.source(), &mut Vec::new(), &mut expected);
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(paths, expected, "{name}");
        let reduced = support::project(event, &paths);
        assert_eq!(pattern.matches(&reduced), pattern.matches(event), "{name}: {reduced}");
    }
    // GIVEN events shaped by each pattern (its fields, its values and their near misses).
    let mut runner = TestRunner::new(Config { cases: 4096, ..Config::default() });
    let strategy = (0..patterns.len(), prop::collection::vec(any::<u8>(), 0..96));
    let outcome = runner.run(&strategy, |(index, bytes)| {
        let (name, pattern, _) = &patterns[index];
        let paths = pattern.paths();
        let mut pool = vec![json!(null), json!(true), json!(false), json!(0), json!(""), json!([])];
        literals_and_near_misses(pattern.source(), &mut pool);
        let tails: Vec<&[&str]> = paths.iter().map(Vec::as_slice).collect();
        let event = shaped_value(&tails, &pool, &mut Choices(bytes.iter()), 0);
        let reduced = support::project(&event, &paths);
        prop_assert_eq!(
            pattern.matches(&reduced),
            pattern.matches(&event),
            "{}: {} reduced to {}",
            name,
            event,
            reduced
        );
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
