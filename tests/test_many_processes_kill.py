"""kill -9 of one of two servers sharing PostgreSQL, at random moments in bursts of opt-ins, trial after trial.

Two `quiz serve` processes share one database, as two machines would. In each trial a burst of
shoppers sends the opt-in form, half to each server, and one server is killed with SIGKILL after
a random delay while the other keeps serving; the killed one is started again for the next trial.
Every shopper who was told "sent" must have a lead and its consent evidence at the end.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from test_many_processes import _environment, _start, _stop
from test_optin_crash import _free_port, _opt_in, _results_token

from quiz.leads import optin
from quiz.store.postgres import PostgresStore

TRIALS = int(os.environ.get("QUIZ_KILL_TRIALS", "25"))  # each 3-4 s: the suite stays in its time
BURST = 8  # shoppers per trial, half sent to the server that is killed


def test_every_acknowledged_opt_in_survives_kill_9_of_one_worker(postgres_database, tmp_path):
    chance = random.Random(13)
    ports = [_free_port(), _free_port()]
    environments = [_environment(postgres_database, tmp_path / f"m{i}", port, 9) for i, port in enumerate(ports)]
    servers = [_start(environment) for environment in environments]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    acknowledged: list[str] = []
    lock = threading.Lock()
    killed_during = 0
    try:
        tokens = [_results_token(bases[1], index) for index in range(TRIALS * BURST + BURST)]
        time.sleep(optin.MIN_SECONDS_ON_FORM + 0.2)

        def send(index: int, base: str) -> None:
            address = f"shopper{index}@example.com"
            if _opt_in(base, index, tokens[index], address):
                with lock:
                    acknowledged.append(address)

        # How long a burst takes a freshly started server on this machine today (0.4 s on a quiet
        # one, 0.8 s on a busy one): the kills are drawn over half again that, so some fall before
        # the victim's answers and some after, whatever the machine's speed.
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=BURST) as pool:
            list(pool.map(send, range(TRIALS * BURST, TRIALS * BURST + BURST), [bases[n % 2] for n in range(BURST)]))
        burst_seconds = time.monotonic() - started
        acknowledged.clear()
        _stop(servers[0])
        servers[0] = _start(environments[0])
        for trial in range(TRIALS):
            victim = servers[0]

            first = trial * BURST
            with ThreadPoolExecutor(max_workers=BURST) as pool:
                futures = [pool.submit(send, first + n, bases[n % 2]) for n in range(BURST)]
                time.sleep(chance.uniform(0, 1.5 * burst_seconds))  # a random moment in the burst
                os.kill(victim.pid, signal.SIGKILL)
                for future in futures:
                    future.result()
            victim.wait(timeout=10)
            with lock:
                victims = [f"shopper{first + n}@example.com" for n in range(0, BURST, 2)]
                killed_during += sum(address not in acknowledged for address in victims)
            servers[0] = _start(environments[0])
    finally:
        _stop(*servers)
    store = PostgresStore(postgres_database)
    try:
        leads = {lead["email"] for lead in store.records("leads")}
        evidence = {record["email"] for record in store.records("consent")}
        people = {record["email"] for record in store.records("people")}
    finally:
        store.close()
    answered_by_victim = TRIALS * BURST // 2 - killed_during
    print(
        f"{TRIALS} kills: {len(acknowledged)} of {TRIALS * BURST} opt-ins acknowledged, {answered_by_victim} of them by"
    )
    print(f"the server that was then killed; {killed_during} sent to it got no answer (a burst: {burst_seconds:.2f} s)")
    assert len(acknowledged) >= TRIALS * BURST // 2  # the server that lived answered its half
    assert killed_during > 0 and answered_by_victim > 0  # the kills fell inside the bursts, not before or after
    assert set(acknowledged) <= leads and set(acknowledged) <= evidence and set(acknowledged) <= people
    assert leads <= evidence  # and nothing stored without its evidence, acknowledged or not
