"""UC3 sample files: real sensor CSVs and real inspection images, including the broken ones.

Deterministic from their arguments (a seed and the day they describe). Layout on the volume:
``plant/<line>/sensors/<machine>.csv`` and ``plant/<line>/inspection/<part>_<YYYYMMDDTHHMMSS>.<ext>``
(local plant time in the name, read in the ``SensorTimeZone``).

Sensor logs, what each one exercises:

* ``press-01.csv``: a UTF-8 BOM, CRLF endings, naive local timestamps, a line column, empty,
  ``nan``, ``NaN`` and out-of-range values, two rows with the wrong number of fields, and spikes the
  robust method must flag;
* ``lathe-02.csv``: mixed line endings (LF, CRLF and a bare CR), timestamps with a ``+09:00``
  offset and with ``Z``, no line column (the folder gives it), a non-numeric ``status`` column,
  an unparsable timestamp and a row with an extra field;
* ``robot-03.csv``: semicolon-delimited, epoch-second timestamps, ``inf`` and text in a value;
* broken on purpose: ``no-header.csv`` (the first line is data), ``no-timestamp.csv`` (no time
  column) and ``latin1.csv`` (not UTF-8): each a FAILED result naming what is wrong.

Inspection images: brushed-metal parts with bolt holes and a stamped lot number (normal), parts
with a dark crack or rust patches (defects the local DetectLabels stand-in measures from the
pixels, ``scripts/localcloud/surface_labels.py``), one PNG over 5 MB (with a crack, so it must be
resized before Rekognition and still be flagged) and a truncated JPEG (FAILED).
"""

from __future__ import annotations

import io
import logging
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

logger = logging.getLogger(__name__)

PLANT_ZONE = "Asia/Tokyo"
PLANT_OFFSET = timezone(timedelta(hours=9))
METRICS = ("temperature_c", "vibration_mm_s", "pressure_bar")
ROWS_PER_MACHINE = 96  # every 30 minutes over two days


@dataclass(frozen=True)
class SampleFile:
    key: str
    body: bytes
    kind: str  # "sensor" or "image"
    expect: str  # "ok", "defect" or "failed"
    note: str = ""


def _start(day: date) -> datetime:
    """Local midnight of ``day`` at the plant, naive."""
    return datetime(day.year, day.month, day.day)


def _wave(i: int, base: float, amplitude: float, rng: random.Random) -> float:
    return base + amplitude * math.sin(i / 7.0) + rng.uniform(-amplitude / 4, amplitude / 4)


def press_log(day: date, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    lines = ["timestamp,machine_id,line,temperature_c,vibration_mm_s,pressure_bar"]
    start = _start(day)
    for i in range(ROWS_PER_MACHINE):
        ts = (start + timedelta(minutes=30 * i)).strftime("%Y-%m-%d %H:%M:%S")
        temp, vib, pres = _wave(i, 68.0, 3.0, rng), _wave(i, 2.2, 0.3, rng), _wave(i, 180.0, 6.0, rng)
        cells = [ts, "press-01", "line-1", f"{temp:.2f}", f"{vib:.3f}", f"{pres:.1f}"]
        if i in (20, 70):
            cells[3] = f"{temp + 40:.2f}"  # overheating spikes: anomalies
        if i == 45:
            cells[4] = "9.800"  # a vibration spike: anomaly
        if i == 10:
            cells[3] = ""
        if i == 11:
            cells[4] = "nan"
        if i == 12:
            cells[5] = "NaN"
        if i == 13:
            cells[3] = "999.0"  # out of range (-40..250)
        if i == 14:
            cells[5] = "-5"  # out of range (0..400)
        lines.append(",".join(cells))
        if i in (30, 60):
            lines.append(",".join(cells[:4]))  # a truncated row: malformed
    return b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode()


def lathe_log(day: date, seed: int = 2) -> bytes:
    rng = random.Random(seed)
    out = io.StringIO()
    out.write("Timestamp,Machine,spindle_rpm,current_a,status\n")
    start = datetime(day.year, day.month, day.day, tzinfo=PLANT_OFFSET)
    endings = ("\n", "\r\n", "\r")
    for i in range(ROWS_PER_MACHINE):
        moment = start + timedelta(minutes=30 * i)
        stamp = moment.isoformat() if i % 2 else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rpm, amps = _wave(i, 3000.0, 50.0, rng), _wave(i, 12.0, 0.8, rng)
        if i == 33:
            rpm = 5200.0  # anomaly
        status = "RUN" if i % 10 else "IDLE"
        row = f"{stamp},lathe-02,{rpm:.0f},{amps:.2f},{status}"
        if i == 50:
            row = f"yesterday noon,lathe-02,{rpm:.0f},{amps:.2f},{status}"  # bad timestamp
        if i == 51:
            row += ",extra"  # too many fields
        out.write(row + endings[i % 3])
    return out.getvalue().encode()


def robot_log(day: date, seed: int = 3) -> bytes:
    rng = random.Random(seed)
    lines = ["ts;machine;line;temperature_c;current_a"]
    start = datetime(day.year, day.month, day.day, tzinfo=PLANT_OFFSET)
    for i in range(ROWS_PER_MACHINE):
        epoch = int((start + timedelta(minutes=30 * i)).timestamp())
        temp, amps = _wave(i, 41.0, 1.5, rng), _wave(i, 6.0, 0.4, rng)
        temp_text = "inf" if i == 5 else f"{temp:.2f}"
        amps_text = "high" if i == 6 else f"{amps:.2f}"
        if i == 80:
            temp_text = "75.00"  # anomaly
        lines.append(f"{epoch};robot-03;line-2;{temp_text};{amps_text}")
    return ("\n".join(lines) + "\n").encode()


def broken_logs(day: date) -> dict[str, bytes]:
    stamp = f"{day.isoformat()} 08:00:00"
    return {
        "no-header.csv": f"{stamp},press-09,70.1,2.1\n{stamp},press-09,70.3,2.2\n".encode(),
        "no-timestamp.csv": b"machine,temperature_c\npress-09,70.1\npress-09,70.2\n",
        "latin1.csv": f"timestamp,machine,temperature_c\n{stamp},Pr\u00e4zision-1,70.1\n".encode("latin-1"),
    }


# -- images ---------------------------------------------------------------------------------------


def part_image(width: int, height: int, seed: int, defect: str | None = None, fmt: str = "JPEG") -> bytes:
    """A brushed-metal part: grey texture, four bolt holes, a stamped lot number; optionally a defect."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    rows = 150 + rng.integers(-8, 9, size=(height, 1))
    grey = np.clip(rows + rng.integers(-6, 7, size=(height, width)), 0, 255).astype(np.uint8)
    image = Image.fromarray(np.stack([grey, grey, (grey * 0.98).astype(np.uint8)], axis=2), "RGB")
    draw = ImageDraw.Draw(image)
    radius = max(6, width // 45)
    for cx, cy in ((0.1, 0.12), (0.9, 0.12), (0.1, 0.88), (0.9, 0.88)):
        x, y = int(cx * width), int(cy * height)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(40, 40, 42))
    draw.text((int(0.4 * width), int(0.82 * height)), f"LOT {seed:04d}", fill=(105, 105, 108))
    pick = random.Random(seed)
    if defect == "crack":
        thickness = max(3, width // 200)
        x, y = int(width * pick.uniform(0.2, 0.35)), int(height * pick.uniform(0.3, 0.6))
        points = [(x, y)]
        for _ in range(12):
            x += int(width * 0.04)
            y += int(height * pick.uniform(-0.03, 0.03))
            points.append((x, y))
        draw.line(points, fill=(30, 28, 28), width=thickness)
    elif defect == "rust":
        for _ in range(5):
            x, y = int(width * pick.uniform(0.25, 0.75)), int(height * pick.uniform(0.25, 0.7))
            rx, ry = int(width * pick.uniform(0.03, 0.06)), int(height * pick.uniform(0.03, 0.06))
            draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=(160, 82, 35))
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, "JPEG", quality=92)
    else:
        image.save(buffer, "PNG")
    return buffer.getvalue()


def big_png(seed: int = 99) -> bytes:
    """A cracked part over 5 MB as PNG: noisy enough that PNG cannot compress it under the limit."""
    return part_image(2800, 2100, seed, "crack", fmt="PNG")


# (line, part, local hour, minute, defect, format)
IMAGES = (
    ("line-1", 1, 7, 10, None, "jpg"),
    ("line-1", 2, 9, 40, None, "png"),
    ("line-1", 3, 11, 5, "crack", "jpg"),
    ("line-1", 4, 15, 20, None, "jpg"),
    ("line-1", 5, 16, 45, "rust", "jpg"),
    ("line-1", 6, 23, 30, None, "jpg"),
    ("line-2", 7, 6, 50, None, "jpg"),
    ("line-2", 8, 8, 15, None, "jpg"),
    ("line-2", 9, 14, 30, "crack", "png"),
    ("line-2", 10, 18, 0, None, "jpg"),
    ("line-2", 11, 2, 20, None, "jpg"),
)


def generate(day: date, *, big: bool = True) -> list[SampleFile]:
    """Every sample file of the demo for ``day`` (the sensor logs span ``day`` and the next)."""
    files = [
        SampleFile(
            "plant/line-1/sensors/press-01.csv",
            press_log(day),
            "sensor",
            "ok",
            "BOM, CRLF, naive local times, empty/nan/out-of-range values, 2 malformed rows",
        ),
        SampleFile(
            "plant/line-1/sensors/lathe-02.csv",
            lathe_log(day),
            "sensor",
            "ok",
            "mixed line endings, +09:00 and Z offsets, a bad timestamp, an extra field",
        ),
        SampleFile(
            "plant/line-2/sensors/robot-03.csv",
            robot_log(day),
            "sensor",
            "ok",
            "semicolons, epoch seconds, inf and text values",
        ),
    ]
    for name, body in broken_logs(day).items():
        files.append(SampleFile(f"plant/line-2/sensors/{name}", body, "sensor", "failed", name))
    stamp_day = day.strftime("%Y%m%d")
    for line, part, hour, minute, defect, ext in IMAGES:
        body = part_image(640, 480, part, defect, fmt="PNG" if ext == "png" else "JPEG")
        key = f"plant/{line}/inspection/part-{part:03d}_{stamp_day}T{hour:02d}{minute:02d}00.{ext}"
        files.append(SampleFile(key, body, "image", "defect" if defect else "ok", defect or "normal"))
    if big:
        files.append(
            SampleFile(
                f"plant/line-1/inspection/part-012_{stamp_day}T200000.png",
                big_png(),
                "image",
                "defect",
                "crack, PNG over 5 MB",
            )
        )
    truncated = part_image(640, 480, 13)
    files.append(
        SampleFile(
            f"plant/line-2/inspection/part-013_{stamp_day}T210000.jpg",
            truncated[: len(truncated) // 3],
            "image",
            "failed",
            "truncated JPEG",
        )
    )
    return files
