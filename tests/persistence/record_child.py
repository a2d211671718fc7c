"""A process that records a burst of events, for the SIGTERM tests (issue 10).

    python -m tests.persistence.record_child --db URL --exchanges N --spill-dir DIR [--stall S]

It starts a recorder on `--db` with the SIGTERM handler installed (as the apps do), publishes
`N` whole exchanges (14 events each) through real mediators as fast as it can, prints
``PUBLISHED <records still pending>``, then waits to be signalled.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from persistence import Recorder, install_signal_handlers
from tests.persistence.support import drive_exchange, quiet_mediator


async def publish(exchanges: int) -> None:
    mediators = [quiet_mediator() for _ in range(20)]
    for n in range(exchanges):
        await drive_exchange(
            mediators[n % 20], conversation_id=f"thread_{n % 20}", run_id=f"run_{n}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--exchanges", type=int, required=True)
    parser.add_argument("--spill-dir", required=True)
    parser.add_argument("--stall", type=float, default=5.0)
    args = parser.parse_args()
    recorder = Recorder(args.db, batch_size=1000, spill_dir=args.spill_dir).start()
    install_signal_handlers(recorder, stall_s=args.stall)
    asyncio.run(publish(args.exchanges))
    print(f"PUBLISHED {recorder.stats.pending}", flush=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:  # the parent signals us long before
        time.sleep(0.05)


if __name__ == "__main__":
    main()
