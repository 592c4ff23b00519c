"""``segment-usage``: read what was recorded, and validate messages offline.

    segment-usage traits USER_ID [--json]   usage and identify traits, linked anonymous ids too
    segment-usage segments USER_ID [--json] why the user is in, out or unknown of each segment
    segment-usage events [--json]           the event catalog
    segment-usage rejected [--json]         kept rejections (and plan warnings), with reasons
    segment-usage validate FILE [--json]    offline; FILE: a JSON message or JSON lines (-: stdin)
    segment-usage replay [--kind K] [--reason TEXT] [--since T] [--until T] [--apply] [--json]
                                            re-run kept messages (dry unless --apply)
    segment-usage redrive --queue URL [--limit N] [--json]
                                            a dead-letter queue's messages through the handler
    segment-usage forget USER_ID [--apply]  erase a person (dry unless --apply); keeps them out
    segment-usage unsuppress USER_ID        record a forgotten person's later messages again
    segment-usage backfill s3://BUCKET/PREFIX/ [--since DAY] [--until DAY] [--apply]
                                            the Segment S3 archive onto the buffer queue (dry
                                            unless --apply)

The table comes from ``--table`` or ``SEGMENT_USAGE_TABLE``; AWS settings are boto3's usual ones
(``AWS_PROFILE``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``...).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from typing import Any, TextIO

from .ingest.check import Policy, check
from .ingest.envelopes import unwrap
from .ingest.trackers import Trackers
from .ingest.tracking_plan import TrackingPlan, TrackingPlanError
from .settings import TABLE
from .table.rejected import KINDS


def _client(args: argparse.Namespace) -> tuple[Any, str]:
    import boto3

    table = args.table or os.environ.get(TABLE)
    if not table:
        raise SystemExit("segment-usage: no table: pass --table NAME or set SEGMENT_USAGE_TABLE")
    return boto3.client("dynamodb", region_name=args.region), table


def _reader(args: argparse.Namespace) -> Any:
    from .read.view import Reader
    from .table.coverage import load_coverage

    client, table = _client(args)
    segments = _segment_definitions(args, client, table)
    # Segments answer unknown where a window reaches before coverage (read/segments.py).
    coverage = load_coverage(client, table) if segments else None
    return Reader(client, table, segments, coverage)


def _segment_definitions(args: argparse.Namespace, client: Any, table: str) -> Any:
    """Segments from --segments FILE, else the definitions Terraform stored in the table."""
    from .read.segments import SegmentDefinitionError, load_from_table, parse_segments

    try:
        if getattr(args, "segments_file", None):
            return parse_segments(_read(args.segments_file))
        if args.command in ("traits", "segments"):
            return load_from_table(client, table)[0]
    except SegmentDefinitionError as exc:
        raise SystemExit(f"segment-usage: {exc}") from exc
    return None


def _documents(text: str) -> list[tuple[str, Any]]:
    """(where, value) for a JSON document, a JSON array or JSON lines; bad JSON becomes an error."""
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    else:
        if isinstance(whole, list):
            return [(f"item {i + 1}", value) for i, value in enumerate(whole)]
        return [("document", whole)]
    docs: list[tuple[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            docs.append((f"line {number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            docs.append((f"line {number}", ValueError(f"not valid JSON ({exc.msg} at {exc.pos})")))
    return docs


ALL_TRACKED = Trackers(None)


def validate_text(text: str, plan: TrackingPlan | None = None) -> list[dict[str, Any]]:
    """One ``{messageId, valid, kind, errors, warnings}`` per message in ``text`` (see
    ``_documents``), by the handler's own check (``ingest.check``) in block mode: ``valid`` is
    whether the handler would record it; ``warnings`` are kept beside a recorded message."""
    results = []
    now_ms = int(time.time() * 1000)
    for where, value in _documents(text):
        if isinstance(value, ValueError):
            results.append(
                {
                    "messageId": None,
                    "valid": False,
                    "kind": "envelope",
                    "errors": [f"{where}: {value}"],
                    "warnings": [],
                }
            )
            continue
        _, items = unwrap(value)
        for item in items:
            payload = item.payload
            checked = check(item, Policy(ALL_TRACKED, plan, "block"), now_ms)
            message_id = payload.get("messageId") if isinstance(payload, dict) else None
            results.append(
                {
                    "messageId": message_id,
                    "valid": checked.message is not None,
                    "kind": checked.kind or None,
                    "errors": checked.errors,
                    "warnings": checked.warnings,
                }
            )
    return results


_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(text: Any) -> str:
    """Untrusted text (names, ids, reasons: anyone with the write key chooses them) as printable
    characters: control characters, ANSI escapes and bidi overrides become ``\\xNN``/``\\uNNNN``,
    so nothing sent to Segment can move the cursor or recolour an operator's terminal."""
    text = str(text)
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class SafeWriter:
    """A text stream that writes every line through ``safe`` (newlines kept): the one place the
    CLI's human-readable output is escaped. JSON output needs none (json escapes them)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, text: str) -> int:
        return self.out.write("\n".join(safe(line) for line in text.split("\n")))

    def flush(self) -> None:
        self.out.flush()


def _print_table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
        out.write("\n")


def cmd_traits(args: argparse.Namespace, out: TextIO) -> int:
    view = _reader(args).user(args.user_id, now=_moment(args.as_of, "--as-of")).as_dict()
    if args.json:
        json.dump(view, out, indent=2)
        out.write("\n")
        return 0
    out.write(f"user {view['userId']}")
    out.write(f" (linked: {', '.join(view['linkedIds'])})\n" if view["linkedIds"] else "\n")
    rows = [["usage trait", "count", "first seen", "last seen", "7 days", "30 days"]]
    for name, t in view["usage"].items():
        rows.append([name, str(t["count"]), t["first_seen"], t["last_seen"],
                     str(t["last_7_days"]), str(t["last_30_days"])])  # fmt: skip
    _print_table(rows, out)
    out.write("identify traits:\n")
    for name, value in view["traits"].items():
        out.write(f"  {name} = {json.dumps(value)}\n")
    for group_id, traits in view["groups"].items():
        out.write(f"group {group_id}: {json.dumps(traits)}\n")
    if view["segments"]:
        out.write("segments: ")
        out.write(", ".join(f"{n} {_VERDICT[m].strip()}" for n, m in view["segments"].items()))
        out.write("\n")
    return 0


_VERDICT = {True: "IN ", False: "OUT", None: "???"}  # a segment: in, out, unknown
_MET = {True: "yes", False: "no ", None: "?  "}  # a condition: met, not met, unknown


def _explain_rows(rows: list[dict[str, Any]], out: TextIO, depth: int) -> None:
    for row in rows:
        actual = f"  (actual: {json.dumps(row['actual'])})" if "actual" in row else ""
        out.write(f"{'  ' * depth}{_MET[row['met']]} {row['path']}: {row['condition']}{actual}\n")
        if row["met"] is None and "conditions" not in row:
            out.write(f"{'  ' * depth}    unknown: {row['reason']}\n")
        _explain_rows(row.get("conditions", []), out, depth + 1)


def cmd_segments(args: argparse.Namespace, out: TextIO) -> int:
    from datetime import UTC, datetime

    from .read.segments import explain

    reader = _reader(args)
    if not reader.segments:
        raise SystemExit(
            "segment-usage: no segments defined: set the module's segments variable "
            "(or pass --segments FILE)"
        )
    now = _moment(args.as_of, "--as-of")
    now = now.astimezone(UTC) if now else datetime.now(UTC)  # one moment, one UTC day for both
    view = reader.user(args.user_id, now=now)
    report = explain(
        reader.segments,
        view.usage,
        view.traits,
        now,
        coverage_start=view.coverage_start,
        user_id=args.user_id,
    )
    if args.json:
        document = {"userId": args.user_id, "coverageStart": view.coverage_start}
        json.dump({**document, "segments": report}, out, indent=2)
        out.write("\n")
        return 0
    out.write(f"user {args.user_id}" + ("" if view.found else " (nothing recorded)") + "\n")
    if view.coverage_start:
        out.write(
            f"coverage starts {view.coverage_start}: a window reaching before it answers unknown "
            "unless what was seen decides it\n"
        )
    for seg in report:
        out.write(f"{_VERDICT[seg['member']]} {seg['segment']} ({seg['match']} of these)")
        out.write(f": {seg['description']}\n" if seg["description"] else "\n")
        if "salt" in seg:
            out.write(f"  holdout salt: {json.dumps(seg['salt'])}\n")
        if seg["member"] is None:
            out.write(f"  unknown: {seg['reason']}\n")
        _explain_rows(seg["conditions"], out, 1)
    return 0


def shared_traits(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Trait -> every ``type name`` behind it, for the traits several names meet in (names that
    differ only in case, spacing or punctuation: ``ingest.trackers.snake_case``)."""
    names: dict[str, list[str]] = {}
    for e in events:
        if e["trait"]:
            names.setdefault(e["trait"], []).append(f"{e['type']} {e['name']}")
    return {trait: sorted(found) for trait, found in sorted(names.items()) if len(found) > 1}


def cmd_events(args: argparse.Namespace, out: TextIO) -> int:
    events = _reader(args).events()
    shared = shared_traits(events)
    if args.json:
        rows = [
            {**e, "names_of_trait": shared.get(e["trait"], [f"{e['type']} {e['name']}"])}
            for e in events
        ]
        json.dump(rows, out, indent=2)
        out.write("\n")
        return 0
    rows = [["type", "name", "count", "last seen", "default trait"]]
    for e in events:
        name = e["name"] or "(unnamed)"
        rows.append([e["type"], name, str(e["count"]), e["last_seen"] or "", e["trait"] or ""])
    _print_table(rows, out)
    for trait, found in shared.items():
        out.write(f"trait {trait} counts {len(found)} names: {', '.join(found)}\n")
    return 0


def cmd_rejected(args: argparse.Namespace, out: TextIO) -> int:
    rows = _reader(args).rejected(include_warnings=not args.no_warnings)
    if args.json:
        json.dump(rows, out, indent=2)
        out.write("\n")
        return 0
    for row in rows:
        out.write(f"{row['at']}  {row['kind']:<8} {row['path']:<11} {row['messageId'] or '-'}\n")
        for reason in row["reasons"]:
            out.write(f"    {reason}\n")
    if not rows:
        out.write("nothing rejected\n")
    return 0


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise SystemExit(f"segment-usage: cannot read {path}: {exc.strerror}") from exc


def cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    text = sys.stdin.read() if args.file == "-" else _read(args.file)
    plan = None
    if args.tracking_plan:
        try:
            plan = TrackingPlan.from_json(_read(args.tracking_plan))
        except TrackingPlanError as exc:
            raise SystemExit(f"segment-usage: {exc}") from exc
    results = validate_text(text, plan)
    if args.json:
        json.dump(results, out, indent=2)
        out.write("\n")
    else:
        for result in results:
            mark = "valid  " if result["valid"] else "INVALID"
            out.write(f"{mark} {result['messageId'] or '-'}\n")
            for error in result["errors"]:
                out.write(f"    {error}\n")
            for warning in result["warnings"]:
                out.write(f"    warning: {warning}\n")
        bad = sum(not r["valid"] for r in results)
        out.write(f"{len(results) - bad} valid, {bad} invalid\n")
    return 0 if all(r["valid"] for r in results) else 1


def _runtime(args: argparse.Namespace) -> Any:
    """The handler's own Processor, configured like the function (SEGMENT_USAGE_* variables)."""
    import boto3

    from .process import Processor
    from .settings import BUFFER_QUEUE_URL, ConfigError, Settings

    env = dict(os.environ)
    if args.table:
        env[TABLE] = args.table
    env.pop(BUFFER_QUEUE_URL, None)  # a CLI run reports failures, never hands off
    try:
        return Processor(Settings.from_env(env), boto3.client("dynamodb", region_name=args.region))
    except ConfigError as exc:
        raise SystemExit(f"segment-usage: {exc}") from exc


def _moment(text: str | None, flag: str) -> Any:
    from datetime import UTC, datetime

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise SystemExit(f"segment-usage: {flag}: {text!r} is not an ISO-8601 time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_replay(args: argparse.Namespace, out: TextIO) -> int:
    from .ops.replay import Filters, replay

    filters = Filters(
        kinds=tuple(args.kind or ()),
        reason=args.reason,
        since=_moment(args.since, "--since"),
        until=_moment(args.until, "--until"),
    )
    results = [r.as_dict() for r in replay(_runtime(args), filters, apply=args.apply)]
    if args.json:
        json.dump({"applied": args.apply, "results": results}, out, indent=2)
        out.write("\n")
    else:
        for r in results:
            out.write(f"{r['at']}  {r['kind']:<12} {r['messageId'] or '-'}: {r['outcome']}\n")
            for reason in r["reasons"]:
                out.write(f"    {reason}\n")
        tally = ", ".join(f"{n} {o}" for o, n in sorted(_count(results).items())) or "nothing"
        out.write(f"{tally}{'' if args.apply else ' (dry run: pass --apply to record)'}\n")
    return 1 if any(r["outcome"] == "failed" for r in results) else 0


def _count(results: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in results:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    return counts


def cmd_redrive(args: argparse.Namespace, out: TextIO) -> int:
    import boto3

    from .ops.redrive import redrive

    sqs = boto3.client("sqs", region_name=args.region)
    report = redrive(_runtime(args), sqs, args.queue, limit=args.limit)
    if args.json:
        json.dump(report, out, indent=2)
        out.write("\n")
    else:
        out.write(", ".join(f"{name} {n}" for name, n in report.items()) + "\n")
    return 1 if report["failed"] else 0


def cmd_forget(args: argparse.Namespace, out: TextIO) -> int:
    from .ops.forget import forget

    client, table = _client(args)
    report = forget(client, table, args.user_id, apply=args.apply).as_dict()
    if args.json:
        json.dump(report, out, indent=2)
        out.write("\n")
        return 0
    verb = "removed" if args.apply else "would remove (dry run: pass --apply to erase)"
    items = ", ".join(f"{n} {kind}" for kind, n in report["items"].items()) or "nothing"
    out.write(f"{verb}: {items}; {report['linkedIds']} linked anonymous ids\n")
    if args.apply:
        out.write(f"suppressed: {report['suppressionMarkers']} ids (keyed hashes, no PII)\n")
    for reason in report["cannotRemove"]:
        out.write(f"cannot remove: {reason}\n")
    return 0


def cmd_unsuppress(args: argparse.Namespace, out: TextIO) -> int:
    from .ops.forget import unsuppress

    client, table = _client(args)
    lifted = unsuppress(client, table, [args.user_id, *(args.anonymous_id or [])])
    if args.json:
        json.dump({"lifted": lifted}, out)
        out.write("\n")
    else:
        out.write(f"lifted {lifted} suppression marker(s)\n")
    return 0


def cmd_backfill(args: argparse.Namespace, out: TextIO) -> int:
    import boto3

    from .ops.backfill import Archive, BackfillError, backfill, parse_day
    from .settings import BACKFILL_AWS, BUFFER_QUEUE_URL

    table = args.table or os.environ.get(TABLE)
    queue_url = args.queue_url or os.environ.get(BUFFER_QUEUE_URL) or None
    if args.apply and not table:
        raise SystemExit(
            "segment-usage: backfill --apply: no table (its coverage is lowered at the end): pass "
            "--table NAME or set SEGMENT_USAGE_TABLE"
        )
    try:
        archive = Archive.parse(args.archive)
        since, until = parse_day(args.since, "--since"), parse_day(args.until, "--until")

        def client(service: str) -> Any:
            return boto3.client(service, region_name=args.region, config=BACKFILL_AWS)

        report = backfill(
            client("s3"),
            archive,
            sqs=client("sqs") if args.apply else None,
            queue_url=queue_url,
            apply=args.apply,
            since=since,
            until=until,
            checkpoint_path=args.checkpoint,
            partitions=args.partitions,
            senders=args.senders,
            dynamodb=client("dynamodb") if args.apply else None,
            table=table,
            progress=None if args.no_progress else sys.stderr,
        ).as_dict()
    except BackfillError as exc:
        raise SystemExit(f"segment-usage: backfill: {exc}") from exc
    if args.json:
        json.dump(report, out, indent=2)
        out.write("\n")
    else:
        days, files = report["days"], report["files"]
        verb = "sent" if args.apply else "would send"
        out.write(
            f"{report['archive']}: {days['count']} received days"
            + (f" ({days['first']} .. {days['last']})" if days["count"] else "")
            + f", {files['total']} files ({files['alreadyDone']} done by an earlier run, "
            f"{files['failed']} unreadable; {files['skippedObjects']} objects not in Segment's "
            "layout skipped)\n"
        )
        sent = report["sent"] if args.apply else report["messages"]
        out.write(
            f"{report['lines']:,} lines read, {report['bytes']['lines']:,} bytes; {verb} "
            f"{sent:,} messages in {report['sqsRequests']:,} SendMessageBatch requests; "
            f"{report['notJson']:,} not JSON objects (kept as rejected by the batch function), "
            f"{report['unsendable']:,} unsendable\n"
        )
        for problem in report["problems"]:
            where = problem.get("file") or f"partition {problem.get('partition')}"
            where += f" line {problem['line']}" if "line" in problem else ""
            out.write(f"  {where}: {problem['reason']}\n")
        if report["coverage"]["day"]:
            changed = "lowered" if report["coverage"]["extended"] else "already reached"
            out.write(f"coverage: history from {report['coverage']['day']} ({changed})\n")
        if not args.apply:
            out.write("(dry run: pass --apply to send)\n")
    return 1 if report["files"]["failed"] else 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="segment-usage", description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str, aws: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        if aws:
            p.add_argument("--table", help="DynamoDB table (default: $SEGMENT_USAGE_TABLE)")
            p.add_argument("--region", help="AWS region (default: boto3's)")
        return p

    p = command("traits", "usage and identify traits of a user, linked anonymous ids included")
    p.add_argument("user_id", metavar="USER_ID")
    p.set_defaults(run=cmd_traits)
    p = command("segments", "why a user is in or out of each segment, condition by condition")
    p.add_argument("user_id", metavar="USER_ID")
    p.set_defaults(run=cmd_segments)
    for name in ("traits", "segments"):
        sub.choices[name].add_argument(
            "--as-of",
            metavar="TIME",
            help="windows and segments as of TIME (ISO-8601; default: now)",
        )
        sub.choices[name].add_argument(
            "--segments",
            dest="segments_file",
            metavar="FILE",
            help="segment definitions JSON (default: those Terraform stored in the table)",
        )
    command("events", "every event, page and screen name seen, with counts").set_defaults(
        run=cmd_events
    )
    p = command("rejected", "messages kept because they were not recorded, with the reasons")
    p.add_argument("--no-warnings", action="store_true", help="hide tracking-plan warnings")
    p.set_defaults(run=cmd_rejected)
    p = command("validate", "check messages against the Segment Spec, offline", aws=False)
    p.add_argument(
        "file", metavar="FILE", help="a JSON message, a JSON array or JSON lines; - for stdin"
    )
    p.add_argument("--tracking-plan", metavar="PLAN", help="also check against this tracking plan")
    p.set_defaults(run=cmd_validate)
    p = command("replay", "re-run kept messages through validation and recording (dry by default)")
    p.add_argument("--kind", action="append", choices=KINDS)
    p.add_argument("--reason", metavar="TEXT", help="only those with a reason containing TEXT")
    p.add_argument("--since", metavar="TIME", help="only those kept at or after TIME (ISO-8601)")
    p.add_argument("--until", metavar="TIME", help="only those kept before TIME (ISO-8601)")
    p.add_argument("--apply", action="store_true", help="record them (default: a dry run)")
    p.set_defaults(run=cmd_replay)
    p = command("redrive", "a dead-letter queue's messages through the handler; the done deleted")
    p.add_argument("--queue", required=True, metavar="URL", help="the queue URL (e.g. a DLQ)")
    p.add_argument("--limit", type=int, metavar="N", help="at most N messages")
    p.set_defaults(run=cmd_redrive)
    p = command("forget", "erase one person: every item with their data (dry unless --apply)")
    p.add_argument("user_id", metavar="USER_ID")
    p.add_argument("--apply", action="store_true", help="erase (default: a dry run that counts)")
    p.set_defaults(run=cmd_forget)
    p = command("unsuppress", "record a forgotten person's later messages again")
    p.add_argument("user_id", metavar="USER_ID")
    p.add_argument("--anonymous-id", action="append", metavar="ID", help="also this anonymousId")
    p.set_defaults(run=cmd_unsuppress)
    p = command("backfill", "load the Segment S3 archive through the buffer queue (dry by default)")
    p.add_argument("archive", metavar="S3_URL", help="s3://BUCKET/PREFIX/ of Segment's archive")
    p.add_argument("--since", metavar="DAY", help="received days from DAY (yyyy-mm-dd, inclusive)")
    p.add_argument("--until", metavar="DAY", help="received days up to DAY (inclusive)")
    p.add_argument("--apply", action="store_true", help="send (default: a dry run that counts)")
    p.add_argument(
        "--queue-url",
        metavar="URL",
        help="the module's buffer queue, output buffer_queue_url "
        "(default: $SEGMENT_USAGE_BUFFER_QUEUE_URL)",
    )
    p.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="progress file, its spilled lines in PATH.parts/ "
        "(default: ./segment-usage-backfill-<bucket>-<prefix>.json)",
    )
    p.add_argument(
        "--partitions",
        type=int,
        metavar="N",
        help="spill partitions (default: one per ~64 MB of lines; set by a backfill's first run)",
    )
    p.add_argument("--senders", type=int, default=4, metavar="N", help="parallel requests (4)")
    p.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    p.set_defaults(run=cmd_backfill)
    return top


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    args = parser().parse_args(argv)
    out = out or sys.stdout
    return args.run(args, out if args.json else SafeWriter(out))


if __name__ == "__main__":
    raise SystemExit(main())
