"""`scalectl report` against the real daemon: the page is self-contained,
holds the expected charts, and its numbers match the status JSON (axis
ranges contain the data, clip lines at ±clip_sample_range, read back through
each chart's scale from its data-* attributes). Also renders it in headless
Chromium to a PNG and checks it is tall, not blank and error-free."""
import json
import os
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

CHARTS = {"histogram", "history-std", "history-mean", "convergence", "channel-mean", "channel-std", "correlation"}


def scalectl_binary() -> str:
    path = os.environ.get("SCALECTL_BIN") or str(ROOT / ".build" / "debug" / "scalectl")
    if not os.access(path, os.X_OK):
        pytest.fail(f"scalectl binary not found at {path}; run `swift build` first or set SCALECTL_BIN")
    return path


class Page(HTMLParser):
    """Every start tag with its attributes, the <svg> elements with their
    children, and the text of <style> elements."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []          # (tag, attrs)
        self.svgs = []          # {"attrs":…, "children": [(tag, attrs)], "title": str}
        self.styles = []
        self.stack = []
        self._svg = None
        self._in_style = False
        self._in_svg_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "svg":
            self._svg = {"attrs": a, "children": [], "title": "", "depth": 0}
            self.svgs.append(self._svg)
        elif self._svg is not None:
            self._svg["children"].append((tag, a))
            if tag == "title" and self._svg["title"] == "":
                self._in_svg_title = True
        if tag == "style":
            self._in_style = True
            self.styles.append("")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag == "svg":
            self._svg = None
        if tag == "style":
            self._in_style = False
        if tag == "title":
            self._in_svg_title = False

    def handle_data(self, data):
        if self._in_style:
            self.styles[-1] += data
        if self._in_svg_title and self._svg is not None:
            self._svg["title"] += data


def scale(svg_attrs, axis):
    d0, d1 = map(float, svg_attrs[f"data-{axis}-domain"].split())
    r0, r1 = map(float, svg_attrs[f"data-{axis}-range"].split())
    return (d0, d1), lambda px: d0 + (float(px) - r0) / (r1 - r0) * (d1 - d0)


def push_known_data(daemon, stream="sd15"):
    """30 batches of N(0, 2²) under a declared factor 0.5 (normalized N(0, 1)),
    then 12 with std 2.7 (normalized 1.35): variance_drift fires."""
    cfg = {"reference": {"scaling_factor": 0.5, "shift_factor": 0.0}, "window_batches": 10, "alert_for_batches": 3,
           "scheduler": {"clip_sample": True, "clip_sample_range": 1.0}}
    assert daemon.request("PUT", f"/v1/streams/{stream}", body=json.dumps(cfg).encode())[0] == 200
    rng = np.random.default_rng(15)
    data = []
    for i, s in enumerate([2.0] * 30 + [2.7] * 12):
        x = (s * rng.standard_normal((8, 4, 16, 16))).astype(np.float32)
        x[:, 1] = 0.6 * x[:, 0] + 0.8 * x[:, 1]        # correlated channels 0 and 1
        data.append(x)
        status, body = daemon.push_raw(stream, x, query=f"step={100 * (i + 1)}")
        assert status == 200, body
    return np.concatenate(data)


def run_report(daemon, tmp_path, stream="sd15", *extra):
    out = tmp_path / "report.html"
    svgdir = tmp_path / "svg"
    run = subprocess.run([scalectl_binary(), "report", stream, "-o", str(out), "--svg", str(svgdir),
                          "--socket", daemon.socket, *extra], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return out, svgdir, run


@pytest.fixture
def report(daemon, tmp_path):
    data = push_known_data(daemon)
    out, svgdir, run = run_report(daemon, tmp_path)
    page = Page()
    page.feed(out.read_text())
    return {"daemon": daemon, "data": data, "path": out, "svgdir": svgdir, "page": page, "run": run,
            "html": out.read_text(),
            "status": daemon.get("/v1/streams/sd15"),
            "history": daemon.get("/v1/streams/sd15/history?limit=100000")["history"]}


def test_page_is_self_contained(report):
    page = report["page"]
    assert report["html"].startswith("<!DOCTYPE html>")
    tags = [t for t, _ in page.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags and "object" not in tags
    refs = []
    for tag, attrs in page.tags:
        for k in ("src", "href", "xlink:href", "action", "srcset", "poster"):
            if k in attrs:
                refs.append(attrs[k])
        if "style" in attrs:
            refs += re.findall(r"url\(([^)]*)\)", attrs["style"])
        for k, v in attrs.items():
            if v and "url(" in v:
                refs += re.findall(r"url\(([^)]*)\)", v)
    for css in page.styles:
        refs += re.findall(r"url\(([^)]*)\)", css)
        assert "@import" not in css and "@font-face" not in css
    for r in refs:
        assert "http://" not in r and "https://" not in r and "//" not in r, r
    for css in page.styles:
        assert "prefers-color-scheme: dark" in css
    assert "Chan" in report["html"]


def test_expected_charts_with_titles_and_tables(report):
    page = report["page"]
    ids = {s["attrs"].get("data-chart") for s in page.svgs}
    assert CHARTS <= ids, ids
    for s in page.svgs:
        assert s["title"].strip(), s["attrs"].get("id")
        assert s["attrs"].get("role") == "img"
    figures = [a.get("id") for t, a in page.tags if t == "figure"]
    assert len(figures) == len(page.svgs)
    assert sum(1 for t, _ in page.tags if t == "details") == len(page.svgs)
    # Axis labels with units and a legend on the XY charts.
    html = report["html"]
    assert "normalized std (dimensionless)" in html and "batches merged" in html and "training step" in html
    assert html.count('class="legend"') >= 6
    # Header facts.
    st = report["status"]
    assert f'{st["totals"]["batches"]} batches' in html
    assert "variance_drift firing" in html
    # The diffusers keys of the declared scalar reference.
    assert "&quot;scaling_factor&quot;:" in html


def svg_by_id(page, chart):
    return next(s for s in page.svgs if s["attrs"].get("data-chart") == chart)


def test_histogram_axis_and_clip_lines(report):
    st = report["status"]
    svg = svg_by_id(report["page"], "histogram")
    (x0, x1), invert = scale(svg["attrs"], "x")
    rng = st["clamp"]["range"]
    w = st["window"]
    lo, hi = w["min"] * 0.5, w["max"] * 0.5          # normalized by the declared factor
    assert x0 <= lo and x1 >= hi and x0 <= -rng and x1 >= rng
    clips = sorted(invert(a["x1"]) for t, a in svg["children"] if t == "line" and a.get("data-role") == "clip")
    assert len(clips) == 2
    tol = (x1 - x0) * 1e-4
    assert abs(clips[0] + rng) < tol and abs(clips[1] - rng) < tol, clips
    assert [float(a["data-value"]) for t, a in svg["children"] if a.get("data-role") == "clip"] == [-rng, rng]
    rec = sorted(float(a["data-value"]) for t, a in svg["children"] if a.get("data-role") == "recommended")
    assert rec == [-st["clamp"]["recommended_range"], st["clamp"]["recommended_range"]]
    share = st["clamp"]["fraction_window"]
    assert 0.3 < share < 0.6
    assert f"outside ±1: {share * 100:.1f}%" in report["html"]
    # The bars stand for (about) the window's elements and straddle the data.
    bars = [a for t, a in svg["children"] if t == "rect" and "width" in a and svg["children"]]
    assert len(bars) >= 30


def test_history_axes_contain_the_data_and_mark_firing(report):
    hist = report["history"]
    svg = svg_by_id(report["page"], "history-std")
    (y0, y1), _ = scale(svg["attrs"], "y")
    (x0, x1), xinv = scale(svg["attrs"], "x")
    stds = [h["normalized_std"] for h in hist if h["normalized_std"] is not None]
    assert len(stds) == 42
    assert y0 <= min(stds) and y1 >= max(stds) and y0 <= 0.95 and y1 >= 1.05
    assert x0 <= hist[0]["step"] and x1 >= hist[-1]["step"]
    band = [a for t, a in svg["children"] if a.get("data-role") == "tolerance"]
    assert [float(band[0]["data-from"]), float(band[0]["data-to"])] == pytest.approx([0.95, 1.05])
    firing = [a for t, a in svg["children"] if a.get("data-role") == "firing"]
    assert firing, "the variance_drift period is not marked"
    assert float(firing[0]["data-from"]) > 3000            # after the step change at step 3000
    # Every polyline vertex reads back to a history value.
    (_, _), yinv = scale(svg["attrs"], "y")
    pts = [a["points"] for t, a in svg["children"] if t == "polyline" and a.get("data-role") == "series"][0].split()
    got = [(xinv(p.split(",")[0]), yinv(p.split(",")[1])) for p in pts]
    want = [(h["step"], h["normalized_std"]) for h in hist]
    assert len(got) == len(want)
    for (gx, gy), (wx, wy) in zip(got, want):
        assert abs(gx - wx) < (x1 - x0) * 1e-3 and abs(gy - wy) < (y1 - y0) * 1e-3

    mean = svg_by_id(report["page"], "history-mean")
    (m0, m1), _ = scale(mean["attrs"], "y")
    means = [h["mean"] * 0.5 for h in hist]
    assert m0 <= min(means) and m1 >= max(means)


def test_convergence_matches_the_status(report):
    st = report["status"]
    svg = svg_by_id(report["page"], "convergence")
    (y0, y1), yinv = scale(svg["attrs"], "y")
    (x0, x1), xinv = scale(svg["attrs"], "x")
    est = st["estimate"]
    assert y0 <= est["scaling_factor_ci95"][0] and y1 >= est["scaling_factor_ci95"][1]
    assert x0 <= 1 and x1 >= 42
    pts = [a["points"] for t, a in svg["children"] if t == "polyline" and a.get("data-role") == "series"][0].split()
    last_factor = yinv(pts[-1].split(",")[1])
    # Chan's merge of the history rows lands on the daemon's own estimate.
    assert abs(last_factor - est["scaling_factor"]) < (y1 - y0) * 1e-3
    data = report["data"].astype(np.float64)
    assert abs(est["scaling_factor"] - 1 / data.std()) < 1e-9
    assert "relative difference" in report["html"]
    rel = float(re.search(r"relative difference ([0-9.e+-]+)\)", report["html"]).group(1))
    assert rel < 1e-9


def test_channel_charts_and_correlation(report):
    st = report["status"]
    ch = st["cumulative"]["channels"]
    svg = svg_by_id(report["page"], "channel-std")
    (y0, y1), _ = scale(svg["attrs"], "y")
    assert all(y0 <= c["std"] <= y1 for c in ch)
    heat = svg_by_id(report["page"], "correlation")
    cells = [a for t, a in heat["children"] if t == "rect" and "data-row" in a]
    assert len(cells) == 16
    corr = st["cumulative"]["correlation"]
    for a in cells:
        assert float(a["data-value"]) == pytest.approx(corr[int(a["data-row"])][int(a["data-col"])], abs=1e-12)
    assert corr[0][1] > 0.5


def test_svg_files_stand_alone(report):
    files = sorted(p.name for p in report["svgdir"].glob("*.svg"))
    assert {f[:-4] for f in files} == {s["attrs"]["data-chart"] for s in report["page"].svgs}
    for f in report["svgdir"].glob("*.svg"):
        root = ET.parse(f).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert root.find("{http://www.w3.org/2000/svg}title").text
        assert "prefers-color-scheme" in root.find("{http://www.w3.org/2000/svg}style").text


def test_histogram_source_is_stated(report):
    daemon = report["daemon"]
    status, _ = daemon.request("GET", "/v1/streams/sd15/histogram?scope=window&normalized=true")
    if status == 404:
        assert "no GET …/histogram yet" in report["html"]
    else:
        assert status == 200
        assert "GET …/histogram (the window" in report["html"]


def test_report_of_an_unknown_stream_fails_cleanly(daemon, tmp_path):
    run = subprocess.run([scalectl_binary(), "report", "nope", "-o", str(tmp_path / "x.html"), "--socket", daemon.socket],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 66, run.stderr
    assert "nope" in run.stderr and not (tmp_path / "x.html").exists()


def test_report_of_a_stream_without_a_reference(daemon, tmp_path):
    rng = np.random.default_rng(3)
    for i in range(3):
        assert daemon.push_raw("fresh", (5.5 * rng.standard_normal((4, 4, 8, 8))).astype(np.float32))[0] == 200
    out, _, _ = run_report(daemon, tmp_path, "fresh")
    page = Page()
    page.feed(out.read_text())
    ids = {s["attrs"].get("data-chart") for s in page.svgs}
    assert {"histogram", "convergence", "correlation"} <= ids
    assert "none yet" in out.read_text()


# --- real browser ----------------------------------------------------------

def read_png(path: Path):
    """Width, height and rows of RGB(A) pixels of an 8-bit PNG (no PIL)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def test_renders_in_headless_chromium(report, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium not found: install Debian's `chromium` package (scripts/setup does)")
    shot = Path(os.environ.get("REPORT_SCREENSHOT") or tmp_path / "report.png")
    profile = tmp_path / "chromium-profile"
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
              "--enable-logging=stderr", "--v=0"]
    url = report["path"].resolve().as_uri()
    run = subprocess.run(common + [f"--screenshot={shot}", "--window-size=1200,3000", url],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0 and shot.exists(), run.stderr[-3000:]
    dom = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True, timeout=180)
    assert dom.returncode == 0, dom.stderr[-3000:]
    # Console messages are logged as "CONSOLE(line)"; the page has none of its own.
    console = [l for l in (run.stderr + dom.stderr).splitlines() if "CONSOLE" in l]
    assert console == [], console
    assert dom.stdout.count("<svg") == len(report["page"].svgs)

    width, height, bpp, rows = read_png(shot)
    assert width == 1200 and height >= 1000
    background = rows[-1][:bpp]
    content_rows = [y for y, r in enumerate(rows) if any(r[i:i + bpp] != background for i in range(0, len(r), bpp * 4))]
    assert content_rows, "the screenshot is blank"
    assert content_rows[-1] >= 1000, f"content ends at {content_rows[-1]} px"
    sample = rows[::10]
    colours = {r[i:i + 3] for r in sample for i in range(0, len(r), bpp * 8)}
    non_bg = sum(1 for r in sample for i in range(0, len(r), bpp * 8) if r[i:i + bpp] != background)
    total = sum(1 for r in sample for i in range(0, len(r), bpp * 8))
    assert len(colours) > 20 and non_bg / total > 0.02, (len(colours), non_bg / total)
