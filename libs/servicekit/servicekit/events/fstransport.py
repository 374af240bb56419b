"""kombu's filesystem transport, made safe for the event bus in local mode.

Checked against kombu 5.7's own `filesystem://` transport: topic routing does work across processes (bindings
live in `<control>/<exchange>.exchange`, a file every process reads on publish; the publishing process must have
declared the exchange so it knows its type). Four gaps remain, and this subclass closes them:

1. `_get` moves a message file to /tmp and deletes it before the consumer acks: a killed consumer loses the
   message. Here a taken message moves to an in-flight folder owned by the channel (a held `flock` marks the owner
   alive); ack deletes it, and any channel that starts finds the folders of dead owners and puts their messages back.
2. `_put` writes the file in place, so a consumer may read it half-written. Here it is written aside and renamed.
3. reject(requeue=True) re-routes through the exchange (every service bound to the type would get a copy). Here the
   message returns to its own queue only.
4. There is no delivery limit and no dead-lettering. Here the queue arguments RabbitMQ knows
   (`x-delivery-limit`, `x-dead-letter-exchange`, `x-dead-letter-routing-key`) are honoured the same way a quorum
   queue honours them: every return (reject with requeue, or a consumer that died) increments the
   `x-delivery-count` header; past the limit, or on reject without requeue, the message goes to the dead-letter
   exchange with `x-first-death-*` headers.

Transport options (set by `servicekit.events.broker.connection`): data_folder_in = data_folder_out (queues),
control_folder, inflight_folder, staging_folder, polling_interval.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from queue import Empty

from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)


class QoS(virtual.QoS):
    def ack(self, delivery_tag):
        self.channel._settle(delivery_tag)
        super().ack(delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        message = self._delivered.get(delivery_tag)
        if message is not None:
            self.channel._return(delivery_tag, message, requeue=requeue)
        self._quick_ack(delivery_tag)


class Channel(filesystem.Channel):
    QoS = QoS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._inflight: dict[str, tuple[Path, str]] = {}
        self._owner_dir: Path | None = None
        self._owner_lock = None

    # -- folders ---------------------------------------------------------------------------------------------------
    @property
    def _queues_dir(self) -> Path:
        return Path(self.data_folder_in)

    @property
    def _inflight_root(self) -> Path:
        return Path(self.transport_options.get("inflight_folder") or (self._queues_dir.parent / "inflight"))

    @property
    def _staging_dir(self) -> Path:
        return Path(self.transport_options.get("staging_folder") or (self._queues_dir.parent / "staging"))

    def _queue_args_file(self, queue: str) -> Path:
        return self.control_folder / f"{queue}.queue.json"

    def _claim_owner_dir(self) -> Path:
        if self._owner_dir is None:
            root = self._inflight_root
            root.mkdir(parents=True, exist_ok=True)
            name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
            tmp = root / (name + ".tmp")
            tmp.mkdir()
            lock = open(tmp / "owner.lock", "w")
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            tmp.rename(root / name)  # recoverers ignore *.tmp, so the folder is locked before it is visible
            self._owner_dir, self._owner_lock = root / name, lock
            self.recover_orphans()
        return self._owner_dir

    # -- queue arguments (x-delivery-limit, dead-letter exchange) ---------------------------------------------------
    def _new_queue(self, queue, arguments=None, **kwargs):
        if arguments:
            self.control_folder.mkdir(parents=True, exist_ok=True)
            target = self._queue_args_file(queue)
            tmp = target.with_suffix(f".{uuid.uuid4().hex}.tmp")
            tmp.write_text(json.dumps(arguments))
            os.replace(tmp, target)

    def queue_bind(self, queue, exchange=None, routing_key="", arguments=None, **kwargs):
        # kombu skips the binding file when this process already bound the queue (state is per process, and per
        # process only one broker folder is assumed); write it always: the file is the shared truth.
        super().queue_bind(queue, exchange, routing_key, arguments, **kwargs)
        exchange = exchange or "amq.direct"
        self._queue_bind(exchange, *self.typeof(exchange).prepare_bind(queue, exchange, routing_key, arguments))

    def _queue_arguments(self, queue: str) -> dict:
        try:
            return json.loads(self._queue_args_file(queue).read_text())
        except (FileNotFoundError, ValueError):
            return {}

    # -- put: written aside, then renamed into the queue folder (atomic) ------------------------------------------
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(time.monotonic() * 1000)):015d}_{uuid.uuid4()}.{queue}.msg"
        staging = self._staging_dir
        staging.mkdir(parents=True, exist_ok=True)
        tmp = staging / name
        with open(tmp, "wb", buffering=0) as f:
            f.write(str_to_bytes(dumps(payload)))
        os.replace(tmp, self._queues_dir / name)

    # -- get: moved to this channel's in-flight folder until acked -------------------------------------------------
    def _get(self, queue):
        suffix = f".{queue}.msg"
        owner = self._claim_owner_dir()
        for filename in sorted(os.listdir(self._queues_dir)):
            if filename.partition(".")[2] != suffix[1:]:
                continue
            taken = owner / filename
            try:
                os.rename(self._queues_dir / filename, taken)
            except FileNotFoundError:
                continue  # another consumer took it
            payload = loads(bytes_to_str(taken.read_bytes()))
            tag = payload["properties"]["delivery_tag"]
            self._inflight[tag] = (taken, queue)
            return payload
        raise Empty()

    def _settle(self, delivery_tag):
        path, _ = self._inflight.pop(delivery_tag, (None, None))
        if path is not None:
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def _return(self, delivery_tag, message, *, requeue: bool):
        """reject: back to its own queue counting the delivery (requeue), or to the dead-letter exchange."""
        path, queue = self._inflight.pop(delivery_tag, (None, None))
        payload = message.serializable() if path is None else loads(bytes_to_str(path.read_bytes()))
        queue = queue or message.delivery_info.get("routing_key")
        self._requeue_or_dead_letter(queue, payload, reason="delivery_limit" if requeue else "rejected",
                                     requeue=requeue)
        if path is not None:
            path.unlink(missing_ok=True)

    def _requeue_or_dead_letter(self, queue: str, payload: dict, *, reason: str, requeue: bool) -> None:
        headers = payload.setdefault("headers", {}) or {}
        payload["headers"] = headers
        args = self._queue_arguments(queue)
        if requeue:
            headers["x-delivery-count"] = int(headers.get("x-delivery-count") or 0) + 1
            limit = args.get("x-delivery-limit")
            if limit is None or headers["x-delivery-count"] <= int(limit):
                payload["redelivered"] = True
                self._put(queue, payload)
                return
        self._dead_letter(queue, payload, args, reason)

    def _dead_letter(self, queue: str, payload: dict, args: dict, reason: str) -> None:
        exchange = args.get("x-dead-letter-exchange")
        if not exchange:
            log.warning("message dropped from %s (%s): the queue has no dead-letter exchange", queue, reason)
            return
        headers = payload["headers"]
        headers.setdefault("x-first-death-queue", queue)
        headers.setdefault("x-first-death-reason", reason)
        headers.setdefault("x-first-death-exchange", payload["properties"]["delivery_info"].get("exchange", ""))
        headers.setdefault("x-first-death-time", time.time())
        routing_key = args.get("x-dead-letter-routing-key") or payload["properties"]["delivery_info"].get(
            "routing_key", "")
        payload["properties"]["delivery_info"] = {"exchange": exchange, "routing_key": routing_key}
        targets = self.typeof(exchange).lookup(self.get_table(exchange), exchange, routing_key, None)
        for target in targets:
            self._put(target, payload)

    def _restore(self, message):
        """Unacked at channel close: back to its own queue, uncounted (the consumer is shutting down cleanly)."""
        tag = message.delivery_tag
        path, queue = self._inflight.pop(tag, (None, None))
        if path is None:
            return super()._restore(message)
        try:
            os.rename(path, self._queues_dir / path.name)
        except FileNotFoundError:
            pass

    def recover_orphans(self) -> int:
        """Put back the in-flight messages of consumers that died (their lock is free), counting the delivery."""
        root, recovered = self._inflight_root, 0
        if not root.is_dir():
            return 0
        for folder in root.iterdir():
            if folder.suffix == ".tmp" or folder == self._owner_dir or not folder.is_dir():
                continue
            try:
                lock = open(folder / "owner.lock", "r+")
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its owner is alive
                for path in sorted(folder.glob("*.msg")):
                    queue = path.name.partition(".")[2][: -len(".msg")]
                    try:
                        payload = loads(bytes_to_str(path.read_bytes()))
                    except (OSError, ValueError):
                        continue
                    self._requeue_or_dead_letter(queue, payload, reason="delivery_limit", requeue=True)
                    path.unlink(missing_ok=True)
                    recovered += 1
                shutil.rmtree(folder, ignore_errors=True)
            finally:
                lock.close()
        if recovered:
            log.warning("recovered %d in-flight message(s) of stopped consumers", recovered)
        return recovered

    def close(self):
        try:
            super().close()  # restores unacked messages first
        finally:
            if self._owner_dir is not None:
                shutil.rmtree(self._owner_dir, ignore_errors=True)
                self._owner_lock.close()
                self._owner_dir = self._owner_lock = None


class Transport(filesystem.Transport):
    Channel = Channel
    driver_name = "vo2-filesystem"
