"""`embkit serve --workers 2` killed outright (SIGKILL, the OOM killer): its workers stop
too, instead of serving the port on as orphans beside a server started anew."""

import signal

import psutil

from live_server import LiveServer


def test_workers_stop_when_the_supervisor_is_killed(tmp_path):
    (tmp_path / "cols").mkdir()
    live = LiveServer(["--root", str(tmp_path / "cols"), "--no-auth", "--workers", "2"], tmp_path / "server.log")
    try:
        workers = psutil.Process(live.process.pid).children()
        assert len(workers) == 2
        live.process.send_signal(signal.SIGKILL)
        live.process.wait(10)
        _, alive = psutil.wait_procs(workers, timeout=30)
        assert [p.pid for p in alive] == []
    finally:
        for worker in workers:
            if worker.is_running():
                worker.kill()
        live.stop()
