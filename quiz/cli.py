"""The ``quiz`` command: validate, lint, simulate and describe quiz files; serve them; export the leads."""

from __future__ import annotations

import argparse
import gc
import getpass
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from quiz.authoring.lint import lint
from quiz.authoring.loader import Loaded, load_quiz
from quiz.authoring.problems import Problem
from quiz.engine.simulate import EXHAUSTIVE_LIMIT, SAMPLES, Coverage, simulate
from quiz.format.schema import json_schema_text
from quiz.marketer.export import CONSENTS, FORMATS, ExportError, batched
from quiz.marketer.users import ROLES

if TYPE_CHECKING:
    from quiz.settings import Settings

_T = TypeVar("_T")


INTERNAL_ERROR = 70  # EX_SOFTWARE of sysexits.h: the tool failed, not the file


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except BrokenPipeError:
        # The reader went away (`quiz simulate ... | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug: its own exit code and one line, never a traceback taken for "problems found"
        if args.run is run_serve:
            raise  # a server's operator needs the whole traceback in the log
        print(f"quiz: internal error ({type(error).__name__}: {str(error)[:200]}); please report it", file=sys.stderr)
        return INTERNAL_ERROR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="quiz", description="Product-recommendation quiz server and tools.")
    commands = parser.add_subparsers(title="commands")

    validate = commands.add_parser("validate", help="check quiz files against the format")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--json", action="store_true", help="print the problems as JSON")
    validate.set_defaults(run=run_validate)

    lint_command = commands.add_parser("lint", help="find logic mistakes in valid quiz files")
    lint_command.add_argument("files", nargs="+", metavar="FILE")
    lint_command.add_argument("--json", action="store_true", help="print the findings as JSON")
    lint_command.set_defaults(run=run_lint)

    simulate_command = commands.add_parser("simulate", help="play every answer path and report coverage")
    simulate_command.add_argument("file", metavar="FILE")
    simulate_command.add_argument("--json", action="store_true", help="print the report as JSON")
    simulate_command.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    simulate_command.add_argument("--samples", type=int, default=SAMPLES, help=f"paths to sample (default {SAMPLES})")
    simulate_command.add_argument(
        "--limit", type=int, default=EXHAUSTIVE_LIMIT, help=f"most paths to try all of (default {EXHAUSTIVE_LIMIT})"
    )
    simulate_command.set_defaults(run=run_simulate)

    serve = commands.add_parser("serve", help="run the quiz server")
    serve.add_argument("folder", nargs="?", default=None, metavar="DIR", help="quiz folder (default: quizzes/)")
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port to listen on (default 8000)")
    serve.add_argument("--root-path", default="", metavar="PREFIX", help="path prefix a proxy serves the app under")
    serve.add_argument(
        "--demo-port", type=int, default=None, metavar="PORT", help="also serve a demo shop embedding the quizzes"
    )
    serve.add_argument(
        "--workers", type=int, default=1, metavar="N", help="worker processes (more than one needs QUIZ_STORE_URL)"
    )
    serve.set_defaults(run=run_serve)

    migrate = commands.add_parser("migrate", help="bring the PostgreSQL store's schema up to date (QUIZ_STORE_URL)")
    migrate.set_defaults(run=run_migrate)

    export = commands.add_parser("export", help="write the leads as CSV or JSON Lines, for the marketer")
    export.add_argument("--quiz", action="append", default=[], metavar="ID", help="only this quiz (repeatable)")
    export.add_argument("--since", metavar="DATE", help="leads updated on or after DATE (YYYY-MM-DD, UTC)")
    export.add_argument("--until", metavar="DATE", help="leads updated on or before DATE (YYYY-MM-DD, UTC)")
    export.add_argument(
        "--consent", choices=CONSENTS, default="subscribed", help="subscribed (default) or any: every lead"
    )
    export.add_argument("--format", choices=FORMATS, default="csv", help="csv (default) or jsonl")
    export.add_argument("--excel", action="store_true", help="CSV for Excel: a byte order mark, CRLF line ends")
    export.add_argument("--locale", metavar="L", help="language of headers and answers (default: each quiz's)")
    export.add_argument("--output", metavar="FILE", help="write to FILE, whole or not at all (default: stdout)")
    export.set_defaults(run=run_export)

    forget = commands.add_parser("forget", help="erase everything about a person, keeping a suppression record")
    forget.add_argument("email", metavar="EMAIL", help="an email address, or a LINE user id (U + 32 hex digits)")
    forget.set_defaults(run=run_forget)

    subject = commands.add_parser("subject", help="print everything stored about a person as one JSON document")
    subject.add_argument("email", metavar="EMAIL", help="an email address, or a LINE user id (U + 32 hex digits)")
    subject.set_defaults(run=run_subject)

    copy = commands.add_parser(
        "copy-store", help="copy a data folder's store into PostgreSQL or back, checking counts (safe to repeat)"
    )
    copy.add_argument("source", metavar="FROM", help="a data folder (QUIZ_DATA_DIR) or a postgresql:// URL")
    copy.add_argument("target", metavar="TO", help="a data folder (QUIZ_DATA_DIR) or a postgresql:// URL")
    copy.set_defaults(run=run_copy_store)

    user = commands.add_parser("user", help="manage the users of the marketer's dashboard")
    user_commands = user.add_subparsers(title="user commands")
    user_add = user_commands.add_parser("add", help="add a user (the password is typed twice, generated or read)")
    user_add.add_argument("email", metavar="EMAIL")
    user_add.add_argument("--role", required=True, choices=ROLES, help="viewer, marketer or owner")
    password = user_add.add_mutually_exclusive_group()
    password.add_argument("--generate", action="store_true", help="make a password and print it once")
    password.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    user_add.set_defaults(run=run_user_add)
    user_list = user_commands.add_parser("list", help="list the users and their roles")
    user_list.set_defaults(run=run_user_list)
    user_remove = user_commands.add_parser("remove", help="remove a user")
    user_remove.add_argument("email", metavar="EMAIL")
    user_remove.set_defaults(run=run_user_remove)

    rollups = commands.add_parser(
        "rollups",
        help="count every stored funnel event again for the dashboard, in QUIZ_TIME_ZONE's days (servers stopped)",
    )
    rollups.set_defaults(run=run_rollups)

    catalog = commands.add_parser("catalog", help="bring a shop's product feed as a quiz catalog")
    catalog_commands = catalog.add_subparsers(title="catalog commands")
    fetch = catalog_commands.add_parser(
        "fetch", help="download a Merchant Center or Shopify feed into a catalog file, if it reads cleanly"
    )
    fetch.add_argument("url", metavar="URL")
    fetch.add_argument("--out", required=True, metavar="FILE", help="the catalog file (.tsv, .xml or .json) to write")
    fetch.add_argument("--json", action="store_true", help="print the outcome as JSON")
    fetch.set_defaults(run=run_catalog_fetch)

    schema = commands.add_parser("schema", help="print the JSON Schema of quiz files")
    schema.set_defaults(run=run_schema)
    return parser


def _load_all(files: Sequence[str], *, quiet: bool = False) -> list[Loaded]:
    """Each file read and checked; its problems printed, one line each, unless ``quiet`` (``--json``)."""
    loaded = [load_quiz(file) for file in files]
    for result in loaded if not quiet else []:
        for problem in result.problems:
            print(problem.render(), file=sys.stdout)
    return loaded


def _print_json(document: object) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))


def run_validate(args: argparse.Namespace) -> int:
    loaded = _load_all(args.files, quiet=args.json)
    if args.json:
        _print_json({"files": [_file_report(result, result.problems) for result in loaded]})
    return 1 if any(result.problems for result in loaded) else 0


def _file_report(result: Loaded, problems: list[Problem]) -> dict[str, Any]:
    errors = sum(problem.severity == "error" for problem in problems)
    return {
        "file": result.file,
        "valid": result.quiz is not None,
        "errors": errors,
        "warnings": len(problems) - errors,
        "problems": [problem.as_dict() for problem in problems],
    }


def run_lint(args: argparse.Namespace) -> int:
    status, reports = 0, []
    for result in _load_all(args.files, quiet=args.json):
        if result.quiz is None:  # the format's problems, printed above: nothing to lint until they are fixed
            status = 1
            reports.append(_file_report(result, result.problems))
            if not args.json:
                print(f"{result.file}: not linted: {len(result.problems)} problem(s) in the file", file=sys.stderr)
            continue
        problems = result.locate(lint(result.quiz))
        reports.append(_file_report(result, problems))
        errors = sum(problem.severity == "error" for problem in problems)
        if not args.json:
            for problem in problems:
                print(problem.render(with_severity=True))
            print(f"{result.file}: {errors} error(s), {len(problems) - errors} warning(s)", file=sys.stderr)
        status = max(status, 1 if errors else 0)
    if args.json:
        _print_json({"files": reports})
    return status


def run_simulate(args: argparse.Namespace) -> int:
    (result,) = _load_all([args.file], quiet=args.json)
    if result.quiz is None:
        if args.json:
            _print_json(_file_report(result, result.problems))
        return 1
    coverage = simulate(result.quiz, limit=args.limit, samples=args.samples, seed=args.seed)
    if args.json:
        print(json.dumps(coverage.as_dict(), indent=2, ensure_ascii=False))
    else:
        print(_report(coverage, [product.id for product in result.quiz.products], limit=args.limit))
    return 0


def _report(coverage: Coverage, product_ids: list[str], *, limit: int) -> str:
    if coverage.mode == "exhaustive":
        lines = [f"Played all {coverage.paths} answer paths."]
    else:
        lines = [f"More than {limit} answer paths: played a sample of {coverage.paths} (seed {coverage.seed})."]
    lines.append("")
    lines.append(f"{'product':<32} {'recommended':>12} {'as fallback':>12}")
    for product_id in sorted(product_ids, key=lambda pid: (-coverage.recommended[pid], pid)):
        count = coverage.recommended[product_id]
        share = 100 * count / max(coverage.paths, 1)
        lines.append(f"{product_id:<32} {count:>6} {share:4.0f}% {coverage.fallback_shown[product_id]:>12}")
    lines.append("")
    lines.append(f"Never recommended: {', '.join(coverage.never) or 'none'}")
    lines.append(f"Paths showing the fallback: {coverage.fallback_paths}")
    lines.append(f"Paths showing no product: {coverage.empty_paths}")
    lines.append(f"Paths whose results are ordered only by product id: {coverage.tie_paths}")
    return "\n".join(lines)


def run_serve(args: argparse.Namespace) -> int:
    import asyncio
    import dataclasses

    import uvicorn  # the server's libraries load only for the command that needs them

    from quiz.app import create_app
    from quiz.settings import SettingsError, from_environment
    from quiz.store.base import StoreError
    from quiz.web.demo import create_demo_app
    from quiz.web.services import services_of

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = from_environment(quizzes_dir=args.folder)
    except SettingsError as error:
        print(f"quiz serve: {error}", file=sys.stderr)
        return 2
    host = args.host or settings.host
    port = args.port or settings.port
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{local}:{port}"
    demo_origins = []
    if args.demo_port:
        # The demo shop is another site than the quiz server (localhost vs 127.0.0.1), as a real shop is.
        demo_origins = [f"http://localhost:{args.demo_port}", f"http://127.0.0.1:{args.demo_port}"]
        extra = tuple(origin for origin in demo_origins if origin not in settings.embed_origins)
        settings = dataclasses.replace(settings, embed_origins=settings.embed_origins + extra)
    if args.workers != 1:
        return _serve_workers(args, settings, host, port)
    try:
        app = create_app(settings)
    # Another server owns the data folder, a data file is damaged, PostgreSQL is away, the suppression key changed.
    except (StoreError, SettingsError) as error:
        print(f"quiz serve: {error}", file=sys.stderr)
        return 2
    found = services_of(app)
    for quiz in found.library.all():
        print(f"quiz {quiz.id!r}: {base}/q/{quiz.id}")
    config = uvicorn.Config(app, host=host, port=port, log_level="info", root_path=args.root_path)
    servers = [uvicorn.Server(config)]
    if args.demo_port:
        demo = create_demo_app(found.library, base, found.templates)
        # log_config=None: the first server's logging setup stays as it is.
        demo_config = uvicorn.Config(demo, host=host, port=args.demo_port, log_config=None, log_level=None)
        servers.append(uvicorn.Server(demo_config))
        print(f"demo shop embedding them: {demo_origins[0]}/")
    return asyncio.run(_serve_all(servers))


def _serve_workers(args: argparse.Namespace, settings: Settings, host: str, port: int) -> int:
    """N uvicorn worker processes on one port, each building the app from the environment."""
    from quiz.settings import SettingsError
    from quiz.store.base import StoreError

    if args.workers < 1:
        print("quiz serve: --workers must be 1 or more", file=sys.stderr)
        return 2
    if not settings.store_url:
        print(
            f"quiz serve: --workers {args.workers} needs a store that several processes share; the embedded store"
            f" in {settings.data_dir / 'store'} takes one writer process. Set QUIZ_STORE_URL to a PostgreSQL"
            ' database (README: "Running more than one process"), or serve with one worker.',
            file=sys.stderr,
        )
        return 2
    if args.demo_port:
        print("quiz serve: the demo shop runs with one worker; drop --demo-port or --workers", file=sys.stderr)
        return 2
    try:
        _check_store(settings)  # once, before the workers start
    except (StoreError, SettingsError) as error:
        print(f"quiz serve: {error}", file=sys.stderr)
        return 2
    if args.folder:
        os.environ["QUIZ_QUIZZES_DIR"] = args.folder  # the workers read their settings from the environment
    print(f"quiz serve: {args.workers} workers on http://{host}:{port}")
    return run_workers("quiz.app:app_from_environment", host=host, port=port, workers=args.workers, root=args.root_path)


def _check_store(settings: Settings) -> None:
    """The store is reachable, migrated, and its suppression list made with the configured key."""
    from quiz.leads.suppressions import Suppressions
    from quiz.store.opening import open_store

    store = open_store(settings)
    try:
        Suppressions(store, settings.suppression_secret).check_key()
    finally:
        store.close()


def run_workers(app: str, *, host: str, port: int, workers: int, root: str = "", log_level: str = "info") -> int:
    """uvicorn's worker supervisor on a listening socket made here, not by uvicorn.

    uvicorn's own (``uvicorn.run(workers=N)``) creates the socket without naming TCP, so asyncio
    leaves Nagle's algorithm on for every connection, and each keep-alive request after the first
    waits about 40 ms for a delayed ACK (uvicorn issue #3149). Naming IPPROTO_TCP here lets asyncio
    set TCP_NODELAY as it does for one worker.
    """
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        app, factory=True, host=host, port=port, workers=workers, root_path=root, log_level=log_level
    )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        print(f"quiz serve: cannot listen on {host}:{port}: {error.strerror}", file=sys.stderr)
        return 2
    listener.set_inheritable(True)
    Multiprocess(config, sockets=[listener]).run()
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    from quiz.settings import SettingsError, from_environment
    from quiz.store.base import StoreError

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = from_environment()
        if not settings.store_url:
            print("quiz migrate: QUIZ_STORE_URL is not set; the embedded store needs no migration", file=sys.stderr)
            return 2
        from quiz.store.postgres import PostgresStore

        store = PostgresStore(settings.store_url, migrate=False, check=False)
        try:
            applied = store.migrate()
        finally:
            store.close()
    except (SettingsError, StoreError) as error:
        print(f"quiz migrate: {error}", file=sys.stderr)
        return 2
    print(f"applied migrations {', '.join(map(str, applied))}" if applied else "the schema is up to date")
    return 0


async def _serve_all(servers: list[Any]) -> int:
    """Run the servers together; if one cannot start (uvicorn logs why), stop the others and fail."""
    import asyncio

    tasks = [asyncio.create_task(server.serve()) for server in servers]
    try:
        await asyncio.gather(*tasks)
    except SystemExit:
        for server in servers:
            server.should_exit = True
        await asyncio.wait(tasks)
        return 1
    return 0


def run_export(args: argparse.Namespace) -> int:
    from quiz.settings import SettingsError
    from quiz.store.base import StoreError

    # Only this command's own line (who exported what) shows; the library's "loaded quiz" lines would be noise.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("quiz.marketer.audit").setLevel(logging.INFO)
    try:
        _export(args)
    except BrokenPipeError:
        raise
    except (SettingsError, StoreError, ExportError, OSError) as error:
        print(f"quiz export: {error}", file=sys.stderr)
        return 2
    return 0


def _export(args: argparse.Namespace) -> None:
    from quiz.marketer.operations import begin_export
    from quiz.settings import from_environment
    from quiz.store.opening import open_store
    from quiz.web.library import QuizLibrary

    settings = from_environment()
    store = open_store(settings, writer=False)  # next to a running server, without its lock
    export = begin_export(
        store,
        QuizLibrary(settings.quizzes_dir).all(),
        settings.data_dir,
        who=_cli_user(),
        quiz_ids=args.quiz,
        since=args.since,
        until=args.until,
        consent=args.consent,
        locale=args.locale,
        format=args.format,
        excel=args.excel,
    )
    complete = False
    # The collector would scan each segment's thousands of records again and again while its lines are
    # written, and they hold no cycle: reference counting frees them. This process ends with the export.
    gc.disable()
    try:
        _write_out(batched(export.chunks), args.output)
        complete = True
    finally:
        gc.enable()
        export.finish(complete=complete)
        store.close()


def _cli_user() -> str:
    try:
        return "cli:" + getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return f"cli:uid {os.getuid()}"


def _write_out(chunks: Iterable[str], output: str | None) -> None:
    """To stdout, or to ``output`` through a temporary file renamed at the end: a failed export leaves no file."""
    if output is None:
        sys.stdout.flush()
        for chunk in chunks:
            sys.stdout.buffer.write(chunk.encode())  # UTF-8 whatever the terminal's locale says
        sys.stdout.buffer.flush()
        return
    target = Path(output)
    if target.exists() and not target.is_file():  # /dev/null, /dev/stdout, a pipe: never rename over them
        with open(target, "w", encoding="utf-8", newline="") as stream:
            stream.writelines(chunks)
        return
    # mkstemp makes the file readable by its owner only, as personal data should be.
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as stream:
            stream.writelines(chunks)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def run_forget(args: argparse.Namespace) -> int:
    """Needs the data folder to itself: while a server runs, ``POST /api/forget`` does the same."""
    return _about_person(args.email, "forget")


def run_subject(args: argparse.Namespace) -> int:
    """Reads next to a running server: the store read-only, the queues' folders without changing a file."""
    return _about_person(args.email, "subject")


class ServerRunning(Exception):
    """The command needs to write the data folder that a running server holds."""


def _about_person(raw: str, name: str) -> int:
    """Erase or describe one person and print the JSON; bad input is a message and status 2."""
    from quiz.marketer.operations import PersonError, person
    from quiz.settings import SettingsError, from_environment
    from quiz.store.base import StoreError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        named = person(raw)
    except PersonError as error:
        print(f"quiz {name}: {error}", file=sys.stderr)
        return 2
    try:
        document = _person_document(named, from_environment(), erase=name == "forget")
    except (SettingsError, StoreError, ServerRunning, OSError) as error:
        print(f"quiz {name}: {error}", file=sys.stderr)
        return 2
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return 0


def _person_document(named: str, settings: Settings, *, erase: bool) -> dict[str, Any]:
    from quiz.consent import Provenance
    from quiz.delivery.mail import MailQueue, transport_for
    from quiz.delivery.outbox import Outbox
    from quiz.errors import StoreLocked
    from quiz.leads.book import LeadBook
    from quiz.leads.suppressions import Suppressions
    from quiz.line.book import LineBook
    from quiz.marketer.operations import People
    from quiz.store.opening import open_store

    try:
        store = open_store(settings, writer=erase)
    except StoreLocked:
        raise ServerRunning(
            f"a quiz server is running on {settings.data_dir}; erase through it (POST /api/forget with the"
            " API key, see the README) or stop it first"
        ) from None
    try:
        suppressions = Suppressions(store, settings.suppression_secret)
        suppressions.check_key(remember=erase)
        provenance = Provenance(settings.controller)  # erasing and describing write no consent evidence
        mail = MailQueue(Outbox(store), transport_for(settings))
        people = People(leads=LeadBook(store, suppressions, provenance), lines=LineBook(store, provenance), mail=mail)
        return people.forget(named) if erase else people.describe(named)
    finally:
        store.close()


def run_copy_store(args: argparse.Namespace) -> int:
    """Copy with the servers stopped: the embedded target must be free, and nothing should write the source."""
    from quiz.store.base import StoreError
    from quiz.store.copying import Copied, copy_store

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    def told(copied: Copied) -> None:
        mark = "" if copied.whole else "   <- differs"
        print(f"{copied.collection:<16} {copied.source:>10} -> {copied.target:>10}{mark}", flush=True)

    try:
        source = _store_at(args.source, writer=False)
        try:
            target = _store_at(args.target, writer=True)
            try:
                copied = copy_store(source, target, told=told)
            finally:
                target.close()
        finally:
            source.close()
    except (StoreError, OSError) as error:
        print(f"quiz copy-store: {error}", file=sys.stderr)
        return 2
    differing = [item.collection for item in copied if not item.whole]
    if differing:
        print(
            f"quiz copy-store: {', '.join(differing)} hold a different number of records on the two sides; the target"
            " had records of its own, or the source changed during the copy",
            file=sys.stderr,
        )
        return 1
    print(f"copied {sum(item.source for item in copied)} records in {len(copied)} collections; the counts agree")
    return 0


def _store_at(where: str, *, writer: bool) -> Any:
    from quiz.errors import StoreError

    if where.startswith(("postgresql://", "postgres://")):
        from quiz.store.postgres import PostgresStore

        return PostgresStore(where, migrate=writer)
    from quiz.store.tiny import TinyStore

    folder = Path(where) / "store"  # a data folder holds its store there, as QUIZ_DATA_DIR does
    if not writer and not folder.is_dir():
        raise StoreError(f"{where}: no data folder here")
    return TinyStore(folder, read_only=not writer)


def run_user_add(args: argparse.Namespace) -> int:
    from quiz.marketer.users import UserError, generated_password

    try:
        password = generated_password() if args.generate else _password(from_stdin=args.password_stdin)
        added = _with_users(lambda users: users.add(args.email, args.role, password))
    except (UserError, _CommandError) as error:
        print(f"quiz user add: {error}", file=sys.stderr)
        return 2
    print(f"added {added.email} as {added.role}")
    if args.generate:
        print(f"password (shown once): {password}")
    return 0


def run_user_list(args: argparse.Namespace) -> int:
    try:
        users = _with_users(lambda users: users.all())
    except _CommandError as error:
        print(f"quiz user list: {error}", file=sys.stderr)
        return 2
    for user in users:
        print(f"{user.email}\t{user.role}\t{user.created_at}")
    return 0


def run_user_remove(args: argparse.Namespace) -> int:
    from quiz.marketer.users import UserError

    try:
        removed = _with_users(lambda users: users.remove(args.email))
    except (UserError, _CommandError) as error:
        print(f"quiz user remove: {error}", file=sys.stderr)
        return 2
    if not removed:
        print(f"quiz user remove: {args.email} is not a user", file=sys.stderr)
        return 1
    print(f"removed {args.email}")
    return 0


def run_rollups(args: argparse.Namespace) -> int:
    from quiz.web.tally import rebuild

    try:
        days = _with_store(lambda store, settings: rebuild(store, settings.time_zone), doing="count the events")
    except _CommandError as error:
        print(f"quiz rollups: {error}", file=sys.stderr)
        return 2
    print(f"counted the stored events again: {days} quiz-days")
    return 0


class _CommandError(Exception):
    """The command cannot run as asked (settings, store, input); the message says why."""


def _password(*, from_stdin: bool) -> str:
    """The new password: a line of standard input, or typed twice at the terminal (never echoed)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise _CommandError("no terminal to type a password at; use --password-stdin or --generate")
    first = getpass.getpass("Password: ")
    if getpass.getpass("The same again: ") != first:
        raise _CommandError("the two passwords differ; nothing was changed")
    return first


def _with_users(use: Callable[[Any], _T]) -> _T:
    """Run ``use`` on the users of the configured store, opened to write and closed after."""
    from quiz.marketer.users import Users

    return _with_store(lambda store, settings: use(Users(store)), doing="change users")


def _with_store(use: Callable[[Any, Any], _T], *, doing: str) -> _T:
    """Run ``use(store, settings)`` on the configured store, opened to write and closed after."""
    from quiz.settings import SettingsError, from_environment
    from quiz.store.base import StoreError, StoreLocked
    from quiz.store.opening import open_store

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = from_environment()
        store = open_store(settings)
    except StoreLocked:
        raise _CommandError(
            f"a quiz server is running on {settings.data_dir}, and the embedded store has one writer: stop it"
            f" to {doing}, or share a PostgreSQL store (QUIZ_STORE_URL), where this runs beside the servers"
        ) from None
    except (SettingsError, StoreError) as error:
        raise _CommandError(str(error)) from None
    try:
        return use(store, settings)
    except StoreError as error:
        raise _CommandError(str(error)) from None
    finally:
        store.close()


def run_catalog_fetch(args: argparse.Namespace) -> int:
    from quiz.marketer.feeds import FeedFetchError, fetch_catalog

    out = Path(args.out)
    try:
        fetched = fetch_catalog(args.url, out)
    except FeedFetchError as error:
        if args.json:
            _print_json({"file": str(out), "written": False, "error": str(error), "problems": []})
        else:
            print(f"quiz catalog fetch: {error}; {out} is left as it was", file=sys.stderr)
        return 1
    if args.json:
        catalog = fetched.catalog
        problems = [problem.as_dict() for problem in catalog.problems]
        outcome = {"written": fetched.written, "products": len(catalog.products), "pages": fetched.pages}
        _print_json({"file": str(out), **outcome, "problems": problems})
        return 0 if fetched.written else 1
    for problem in fetched.catalog.problems:
        print(problem.render())
    if not fetched.written:
        print(
            f"{out}: {len(fetched.catalog.problems)} problem(s) in the feed; the file is left as it was",
            file=sys.stderr,
        )
        return 1
    pages = f" ({fetched.pages} pages)" if fetched.pages > 1 else ""
    print(f"{out}: {len(fetched.catalog.products):,} products written{pages}")
    return 0


def run_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(json_schema_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
