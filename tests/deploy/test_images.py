"""The gateway's image builds the web console from web/package-lock.json and serves it (no Docker engine here: the
Dockerfile is read as data; the same steps were run by hand in a copy of exactly the files it copies). What this
does not prove: that `docker build` succeeds or that the built image serves `/` (the e2e tests prove the gateway
serves a `web/dist` built the same way)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "gateway/Dockerfile").read_text().replace("\\\n", " ")


def stages() -> list[tuple[str, str | None, list[str]]]:
    """(image, stage name, instructions) per FROM."""
    found = []
    for line in DOCKERFILE.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            words = line.split()
            found.append((words[1], words[3] if len(words) > 3 and words[2].upper() == "AS" else None, []))
        else:
            found[-1][2].append(line)
    return found


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_a_node_stage_installs_the_console_from_its_lock_file_and_builds_it():
    (image, name, steps), *_ = stages()
    assert name and image.startswith("node:")
    tag = re.match(r"node:(\d+\.\d+\.\d+)-", image)
    assert tag, f"{image}: a pinned Node.js release"
    # the node Vite asks for (web/package-lock.json's vite, its engines field: "^20.19.0 || >=22.12.0")
    lock = (ROOT / "web/package-lock.json").read_text()
    engines = re.search(r'"node_modules/vite": \{.*?"engines": \{\s*"node": "([^"]+)"', lock, re.S).group(1)
    node = version(tag.group(1))
    assert any((alt.startswith("^") and node[0] == version(alt[1:])[0] and node >= version(alt[1:]))
               or (alt.startswith(">=") and node >= version(alt[2:]))
               for alt in (a.strip() for a in engines.split("||"))), (image, engines)
    copies = [s for s in steps if s.startswith("COPY ")]
    runs = [s for s in steps if s.startswith("RUN ")]
    install = steps.index(next(s for s in runs if "npm ci" in s))
    assert "web/package-lock.json" in steps[install - 1] and "web/package.json" in steps[install - 1], \
        "the lock file is copied before `npm ci` installs exactly it"
    assert not any("npm install" in s for s in runs)
    build = steps.index(next(s for s in runs if "npm run build" in s))
    assert build > install
    sources = " ".join(copies)
    for needed in ("web/src", "web/index.html", "web/vite.config.ts", "web/tsconfig.json"):  # what `build` reads
        assert needed in sources, needed
        assert (ROOT / needed).exists(), needed
    assert '"build": "tsc --noEmit && vite build"' in (ROOT / "web/package.json").read_text()
    assert 'outDir: "dist"' in (ROOT / "web/vite.config.ts").read_text()


def test_the_gateway_image_holds_only_the_built_console_and_points_web_dir_at_it():
    (_, console, first), (image, _, steps) = stages()[0], stages()[-1]
    assert image.startswith("python:")
    workdir = next(s.split()[1] for s in first if s.startswith("WORKDIR "))
    (copy,) = [s for s in steps if s.startswith(f"COPY --from={console} ")]
    source, target = copy.split()[2:]
    assert source == f"{workdir}/dist"
    env = dict(re.findall(r"\b([A-Z_]+)=(\S+)", " ".join(s for s in steps if s.startswith("ENV "))))
    assert env["WEB_DIR"] == target
    assert not any("npm" in s or "node_modules" in s for s in steps), "no Node.js in the gateway's image"
    # the gateway serves WEB_DIR at / (gateway/gateway/settings.py → console.Console)
    assert 'web_dir=env("WEB_DIR")' in (ROOT / "gateway/gateway/settings.py").read_text()
    assert "Console(settings.web_dir)" in (ROOT / "gateway/gateway/app.py").read_text()


def test_the_build_context_leaves_out_the_machines_node_modules_and_build():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {"web/node_modules", "web/dist", ".venv", ".git"} <= ignored
