"""Reading result files defensively: a crafted `.npz` is refused in milliseconds and kilobytes, with one line.

The archives here are written byte by byte (`write_zip`), so they can say what no honest writer would: members
that declare gigabytes of zeros in a few kilobytes, sizes that disagree with the data, headers of other dtypes.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import struct
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import THINKING_TEXTS, synthetic_answer_result, synthetic_result, synthetic_video_result
from PIL import Image

from qvl_widget import AttentionResult

# ----- writing archives byte by byte ---------------------------------------------------------------------------

STORED, DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
MIB = 2**20


@dataclass
class Member:
    """One zip entry as it will be written: `data` (compressed when `method` is DEFLATED) and what the
    directory says about it."""

    name: str
    data: bytes
    method: int = STORED
    file_size: int | None = None  # default: len(data) (stored)
    crc: int | None = None  # default: the CRC of data (stored); a deflated bomb is never read to its end
    compress_size: int | None = None  # default: len(data)


def stored(name: str, data: bytes) -> Member:
    return Member(name, data, STORED, len(data), zlib.crc32(data))


def deflated(name: str, data: bytes) -> Member:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return Member(name, compressor.compress(data) + compressor.flush(), DEFLATED, len(data), zlib.crc32(data))


def zero_bomb(name: str, header: bytes, zeros: int) -> Member:
    """A deflated member: `header`, then `zeros` zero bytes, in about zeros / 1000 bytes, built in milliseconds.

    After a full flush a deflate stream is byte-aligned and refers to nothing before it, so the stream of one
    MiB of zeros can be repeated. Its CRC is not computed (that would take seconds): a reader that inflates
    the whole member fails at the end, after paying for it, which is what the bounds below catch."""

    def flushed(data: bytes) -> bytes:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)

    whole, rest = divmod(zeros, MIB)
    stream = flushed(header) + flushed(bytes(MIB)) * whole + (flushed(bytes(rest)) if rest else b"")
    return Member(name, stream + b"\x03\x00", DEFLATED, len(header) + zeros, 0)  # + an empty final block


def write_zip(path: Path, members: list[Member]) -> Path:
    """A zip file (no zip64: every size under 4 GiB) holding `members` exactly as described."""
    out, directory = bytearray(), bytearray()
    for member in members:
        name = member.name.encode()
        crc = zlib.crc32(member.data) if member.crc is None else member.crc
        compressed = len(member.data) if member.compress_size is None else member.compress_size
        sizes = (crc, compressed, len(member.data) if member.file_size is None else member.file_size)
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, member.method, 0, 0x21, *sizes, len(name), 0)
        out += name + member.data
        directory += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            member.method,
            0,
            0x21,
            *sizes,
            len(name),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        directory += name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory), len(out), 0)
    path.write_bytes(bytes(out + directory + end))
    return path


def npy_header(dtype: Any, shape: tuple[int, ...], fortran_order: bool = False) -> bytes:
    buffer = io.BytesIO()
    descr = np.lib.format.dtype_to_descr(np.dtype(dtype))
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": fortran_order, "shape": shape})
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def members_of(path: Path) -> dict[str, bytes]:
    """The `.npy` files inside a saved result, by name."""
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def metadata_of(members: dict[str, bytes]) -> dict:
    return json.loads(str(np.load(io.BytesIO(members["metadata.npy"]))))


def with_metadata(members: dict[str, bytes], metadata: dict) -> dict[str, bytes]:
    return {**members, "metadata.npy": npy(np.array(json.dumps(metadata)))}


def archive(path: Path, members: dict[str, bytes], *replaced: Member) -> Path:
    """`members` stored, with `replaced` members in place of those of the same name (or added)."""
    by_name = {name: stored(name, data) for name, data in members.items()}
    by_name.update({member.name: member for member in replaced})
    return write_zip(path, list(by_name.values()))


# ----- cost of a refusal ---------------------------------------------------------------------------------------


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_resident_bytes() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


def reset_peak() -> None:
    """Start the peak resident size afresh (Linux 4.0+), so that a peak inside a block shows."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass  # then only peaks above the earlier ones show


@contextmanager
def reads() -> Iterator[Counter[str]]:
    """Counts what the block reads out of archive members (what it inflates), in bytes, by member name."""
    read: Counter[str] = Counter()
    original_read, original_read1 = zipfile.ZipExtFile.read, zipfile.ZipExtFile.read1

    def counted(method: Callable[..., bytes]) -> Callable[..., bytes]:
        def reading(self: zipfile.ZipExtFile, *args: Any) -> bytes:
            data = method(self, *args)
            read[self.name] += len(data)
            return data

        return reading

    zipfile.ZipExtFile.read, zipfile.ZipExtFile.read1 = counted(original_read), counted(original_read1)  # type: ignore[method-assign]
    try:
        yield read
    finally:
        zipfile.ZipExtFile.read, zipfile.ZipExtFile.read1 = original_read, original_read1  # type: ignore[method-assign]


@contextmanager
def costs_at_most(read_bytes: int, extra_bytes: int) -> Iterator[None]:
    """The block reads at most `read_bytes` out of the archive's members (what it inflates: work, whatever the
    machine's speed) and grows neither the resident memory nor its peak by `extra_bytes`."""
    reset_peak()
    before, peak_before = resident_bytes(), peak_resident_bytes()
    with reads() as read:
        yield
    grew = max(resident_bytes() - before, peak_resident_bytes() - max(peak_before, before))
    assert read.total() <= read_bytes, f"read {read.total() / MIB:.1f} MiB of the archive's members"
    assert grew < extra_bytes, f"grew by {grew / MIB:.0f} MiB"


def header_bytes(data: bytes) -> int:
    """The length of the `.npy` header (magic string, header length, header text) at the start of `data`; all of
    `data` where it has none that numpy reads."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        read_header[version](stream)
    except (ValueError, KeyError, SyntaxError):
        return len(data)
    return stream.tell()


def assert_only_headers_read(read: Counter[str], members: dict[str, bytes], but: tuple[str, ...] = ()) -> None:
    """Of each member but `but`, at most its `.npy` header was read: none of its data."""
    for name, count in read.items():
        if name not in but:
            assert count <= header_bytes(members[name]), (
                f"{count} bytes of {name} read, its header has {header_bytes(members[name])}"
            )


def refused(path: Path, *fragments: str) -> str:
    """Load `path`, expecting qvl_widget's one-line refusal that names each of `fragments`."""
    with pytest.raises(ValueError, match="is not a readable qvl_widget result file") as info:
        AttentionResult.load(path)
    message = str(info.value)
    assert "\n" not in message, message
    assert info.value.__cause__ is None and info.value.__suppress_context__, message
    for fragment in fragments:
        assert fragment in message, message
    return message


# ----- files that load --------------------------------------------------------------------------------------------


def assert_same(loaded: AttentionResult, original: AttentionResult) -> None:
    for name in ("attention", "image_mass", "query_positions", "image_positions"):
        saved, restored = getattr(original, name), getattr(loaded, name)
        assert restored.dtype == saved.dtype and restored.shape == saved.shape, name
        assert restored.tobytes() == saved.tobytes(), name
    assert loaded.tokens == original.tokens and loaded.images == original.images
    assert loaded.layer_ids == original.layer_ids
    fields = ("prompt", "model", "family", "answer", "thinking")
    assert [getattr(loaded, name) for name in fields] == [getattr(original, name) for name in fields]
    for restored, saved in zip(loaded.pictures, original.pictures, strict=True):
        assert (restored.mode, restored.size, restored.tobytes()) == (saved.mode, saved.size, saved.tobytes())


def with_arrays(result: AttentionResult, **arrays: np.ndarray) -> AttentionResult:
    return dataclasses.replace(result, **arrays)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: synthetic_result(), id="prompt"),
        pytest.param(lambda: synthetic_answer_result(grids=((4, 6), (3, 5)), layers=3, heads=2), id="answer-2-images"),
        pytest.param(lambda: synthetic_answer_result(thinking_texts=THINKING_TEXTS), id="thinking"),
        pytest.param(
            lambda: synthetic_answer_result(answer_texts=(), thinking_texts=("Maybe", " red")), id="still-thinking"
        ),
        pytest.param(
            lambda: with_arrays(
                synthetic_result(),
                attention=synthetic_result().attention.astype(np.float16),
                image_mass=synthetic_result().image_mass.astype(np.float16),
            ),
            id="float16",
        ),
        pytest.param(
            lambda: with_arrays(synthetic_result(), attention=np.asfortranarray(synthetic_result().attention)),
            id="fortran-order",
        ),
        pytest.param(
            lambda: with_arrays(
                synthetic_result(),
                query_positions=np.arange(100, 107, dtype=np.int32),
                image_positions=np.arange(10, 34, dtype=np.uint16),
            ),
            id="narrow-positions",
        ),
    ],
)
def test_files_written_by_save_load_bit_exact(make, tmp_path):
    original = make()
    assert_same(AttentionResult.load(original.save(tmp_path / "result.npz")), original)


def test_version_1_files_and_deflated_archives_still_load(tmp_path):
    original = synthetic_result()
    members = members_of(original.save(tmp_path / "v2.npz"))
    metadata = metadata_of(members)
    version_1 = {key: value for key, value in metadata.items() if key not in ("answer", "layer_ids")}
    version_1["format_version"] = 1
    version_1["images"] = [
        {key: value for key, value in image.items() if key not in VIDEO_KEYS} for image in metadata["images"]
    ]
    version_1["tokens"] = [
        {key: token[key] for key in ("text", "start", "end", "special")} for token in metadata["tokens"]
    ]
    assert_same(AttentionResult.load(archive(tmp_path / "v1.npz", with_metadata(members, version_1))), original)
    # np.savez_compressed of the same arrays (not what save writes, but an honest archive): deflated members.
    compressed = write_zip(tmp_path / "deflated.npz", [deflated(name, data) for name, data in members.items()])
    assert_same(AttentionResult.load(compressed), original)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.dtype(">f4")])
def test_probabilities_at_the_edges_load(tmp_path, dtype):
    """A row's share that rounds just past 1, a -0.0, exact zeros and ones, in either byte order."""
    original = synthetic_result()
    attention, mass = original.attention.astype(dtype), original.image_mass.astype(dtype)
    mass[0, 0, 0] = 1.0005
    attention[0, 0, 0] = 0  # the row's columns add up to its share, as in a capture
    attention[0, 0, 0, :3] = [-0.0, 0.0, 1.0]
    changed = with_arrays(original, attention=attention, image_mass=mass)
    assert_same(AttentionResult.load(changed.save(tmp_path / "r.npz")), changed)


VIDEO_KEYS = ("groups", "group_frames", "group_times")  # image keys of version 4 files


# ----- zip bombs: refused from the directory and the headers, before anything large is inflated ---------------------

BOMB_SHAPE = (16, 16, 1000, 3900)  # float32: 3.7 GiB of zeros, in under 4 MiB
BOMB_BYTES = int(np.prod(BOMB_SHAPE)) * 4
BOUND = dict(read_bytes=MIB, extra_bytes=50 * MIB)  # a refusal reads the metadata and headers, never the data


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, bytes]:
    """The members of a saved result with an answer and two images."""
    path = synthetic_answer_result(grids=((4, 6), (3, 5))).save(tmp_path_factory.mktemp("saved") / "result.npz")
    return members_of(path)


def consistent_with(shape: tuple[int, int, int, int], members: dict[str, bytes]) -> dict[str, bytes]:
    """`members` with metadata and small arrays that agree with an attention of `shape` (one image)."""
    layers, heads, queries, columns = shape
    metadata = metadata_of(members)
    token = {"text": "a", "start": 0, "end": 1, "special": False, "part": "prompt", "probability": None}
    metadata.update(prompt="a", answer=None, layer_ids=list(range(layers)), tokens=[token] * queries)
    metadata["images"] = [
        {"rows": 60, "cols": columns // 60, "resized_size": [28, 28], "original_size": [8, 6], "first_column": 0}
        | {"groups": 1, "group_frames": [], "group_times": []}
    ]
    picture = io.BytesIO()
    Image.new("RGB", (8, 6)).save(picture, format="PNG")
    consistent = {name: data for name, data in with_metadata(members, metadata).items() if name != "picture_1.npy"}
    consistent["image_mass.npy"] = npy(np.zeros((layers, heads, queries), np.float32))
    consistent["query_positions.npy"] = npy(np.arange(10_000, 10_000 + queries))
    consistent["image_positions.npy"] = npy(np.arange(10, 10 + columns))
    consistent["picture_0.npy"] = npy(np.frombuffer(picture.getvalue(), np.uint8))
    return consistent


@pytest.mark.parametrize("metadata", ["consistent", "mismatched"])
def test_an_attention_bomb_is_refused_from_its_headers_in_kilobytes(saved, tmp_path, metadata):
    members = consistent_with(BOMB_SHAPE, saved) if metadata == "consistent" else saved
    bomb = zero_bomb("attention.npy", npy_header(np.float32, BOMB_SHAPE), BOMB_BYTES)
    path = archive(tmp_path / "bomb.npz", members, bomb)
    assert path.stat().st_size < 6 * MIB
    with costs_at_most(**BOUND):
        refused(path, "would inflate to 3.7 GiB", "attention.npy 1011 times", "at most 20 times")


@pytest.mark.parametrize("name", ["metadata.npy", "picture_0.npy", "image_mass.npy"])
def test_a_bomb_in_any_member_is_refused_before_it_is_inflated(saved, tmp_path, name):
    header = npy_header("<U100000000", ()) if name == "metadata.npy" else npy_header(np.uint8, (2**30,))
    size = 400_000_000 if name == "metadata.npy" else 2**30
    path = archive(tmp_path / "bomb.npz", saved, zero_bomb(name, header, size))
    with costs_at_most(**BOUND):
        refused(path, "would inflate to", name)


def test_many_small_bombs_add_up(saved, tmp_path):
    """Members under the free inflation allowance each, over it together."""
    bombs = [zero_bomb(f"picture_{index}.npy", npy_header(np.uint8, (15 * MIB,)), 15 * MIB) for index in range(40)]
    path = archive(tmp_path / "bombs.npz", saved, *bombs)
    with costs_at_most(**BOUND):
        refused(path, "would inflate to 600.0 MiB")


def test_a_bomb_within_the_inflation_bound_is_refused_by_its_header(saved, tmp_path):
    """Inflating 20 times a file's size is allowed; a header that disagrees with the metadata is still refused
    before the data is read."""
    padded = edited(saved, lambda metadata: metadata.update(padding="x" * (2 * MIB)))  # 8 MiB of metadata (UTF-32)
    shape = (16, 16, 1000, 150)  # 146 MiB: under 20 times the file
    bomb = zero_bomb("attention.npy", npy_header(np.float32, shape), int(np.prod(shape)) * 4)
    path = archive(tmp_path / "bomb.npz", padded, bomb)
    with costs_at_most(read_bytes=9 * MIB, extra_bytes=50 * MIB):  # its 8 MiB of metadata, not its 146 MiB
        refused(path, "attention is float32 [16, 16, 1000, 150] where its metadata", "needs [2, heads, 11, 39]")


def test_a_declared_size_beyond_the_file_is_refused(saved, tmp_path):
    size = 3 * 2**30
    truncated = Member("attention.npy", saved["attention.npy"][:200], STORED, file_size=size, crc=0, compress_size=size)
    path = write_zip(
        tmp_path / "cut.npz", [stored(n, d) for n, d in saved.items() if n != "attention.npy"] + [truncated]
    )
    with costs_at_most(**BOUND):
        refused(path, "attention.npy is truncated: its 3221225472 bytes do not fit in the file")


def test_a_huge_npy_header_is_refused_before_numpy_reads_it(saved, tmp_path):
    header = b"\x93NUMPY\x02\x00" + (2**31).to_bytes(4, "little")
    path = archive(tmp_path / "header.npz", saved, zero_bomb("attention.npy", header, 8 * MIB))
    with costs_at_most(**BOUND):
        refused(path, "attention.npy has an .npy header of 2147483648 bytes")


def test_too_large_for_the_memory_free(saved, tmp_path, monkeypatch):
    monkeypatch.setattr("qvl_widget._result.available_bytes", lambda: 1000)
    refused(archive(tmp_path / "r.npz", saved), "of memory and this machine has 1000 bytes free")
    monkeypatch.setattr("qvl_widget._result.available_bytes", lambda: None)  # unknown (macOS): no check
    AttentionResult.load(archive(tmp_path / "r.npz", saved))


# ----- archives and headers that disagree -----------------------------------------------------------------------


def replaced_array(members: dict[str, bytes], name: str, array: np.ndarray) -> dict[str, bytes]:
    return {**members, f"{name}.npy": npy(array)}


def header_only(name: str, dtype: Any, shape: tuple[int, ...]) -> Member:
    """A member with a header and zeros for data: what the header declares, without a real array."""
    header = npy_header(dtype, shape)
    return stored(f"{name}.npy", header + bytes(int(np.prod(shape)) * np.dtype(dtype).itemsize))


def test_archive_directories_that_save_does_not_write(saved, tmp_path):
    members = list(saved.items())
    cases: dict[str, tuple[list[Member], str]] = {
        "extra": ([stored(n, d) for n, d in members] + [stored("evil.npy", b"x")], "'evil.npy', which result.save"),
        "duplicate": ([stored(n, d) for n, d in members] + [stored(*members[0])], "twice"),
        "missing": ([stored(n, d) for n, d in members if n != "image_mass.npy"], "it has no image_mass.npy"),
        "bzip2": (
            [stored(n, d) for n, d in members[:-1]] + [Member(members[-1][0], b"BZh9", zipfile.ZIP_BZIP2, 100, 0)],
            "compressed by method 12",
        ),
        "stored-lies": (
            [stored(n, d) for n, d in members[:-1]] + [Member(members[-1][0], members[-1][1], STORED, 10**6, 0)],
            "but declares 1000000",
        ),
    }
    for name, (written, message) in cases.items():
        refused(write_zip(tmp_path / f"{name}.npz", written), message)
    encrypted = bytearray(write_zip(tmp_path / "plain.npz", [stored(n, d) for n, d in members]).read_bytes())
    central = encrypted.rindex(b"PK\x01\x02")
    encrypted[central + 8] |= 1  # the general-purpose flag's encryption bit
    (tmp_path / "encrypted.npz").write_bytes(bytes(encrypted))
    refused(tmp_path / "encrypted.npz", "is encrypted")


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (header_only("attention", "<U10", (2, 2, 11, 39)), "attention holds <U10, not float16 or float32"),
        (header_only("attention", np.int32, (2, 2, 11, 39)), "attention holds int32"),
        (header_only("attention", np.float64, (2, 2, 11, 39)), "attention holds float64"),
        (header_only("attention", np.complex64, (2, 2, 11, 39)), "attention holds complex64"),
        (header_only("attention", np.float32, (2, 2, 11)), "attention is float32 [2, 2, 11] where its metadata"),
        (header_only("attention", np.float32, (2, 2, 12, 39)), "needs [2, heads, 11, 39]"),
        (header_only("attention", np.float32, (3, 2, 11, 39)), "2 layers"),
        (header_only("attention", np.float32, (2, 0, 11, 39)), "needs [2, heads, 11, 39]"),
        (header_only("image_mass", np.float32, (2, 2, 10)), "image_mass is float32 [2, 2, 10] where"),
        (header_only("image_mass", np.int64, (2, 2, 11)), "image_mass holds int64"),
        (header_only("query_positions", np.float64, (11,)), "query_positions holds float64, not integer"),
        (header_only("query_positions", np.int64, (12,)), "query_positions is int64 [12] where"),
        (header_only("image_positions", np.int64, (38,)), "image_positions is int64 [38]"),
        (header_only("picture_0", np.int16, (100,)), "picture_0 is int16 [100], not the bytes of a PNG"),
        (header_only("picture_1", np.uint8, (10, 10)), "picture_1 is uint8 [10, 10]"),
        (header_only("metadata", np.float64, ()), "its metadata is float64 [], not one text of at most 64.0 MiB"),
        (header_only("metadata", "<U10", (2,)), "its metadata is <U10 [2]"),
        (stored("attention.npy", b"\x93NUMPY\x03\x00" + bytes(100)), "version 3.0, not 1.0 or 2.0"),
        (stored("attention.npy", b"not an npy file at all"), "attention.npy is not an .npy file (the magic string"),
        (stored("attention.npy", npy_header(np.float32, (2, 2, 11, 39)) + bytes(100)), "holds 100 bytes of data"),
        (stored("attention.npy", npy_header(np.float32, (-1, -2, 11, 39))), "declares the shape [-1, -2, 11, 39]"),
    ],
    ids=lambda value: value.name if isinstance(value, Member) else None,
)
def test_headers_are_checked_against_the_metadata_before_the_data_is_read(saved, tmp_path, member, message):
    with reads() as read:
        refused(archive(tmp_path / "r.npz", saved, member), message)
    assert_only_headers_read(read, {**saved, member.name: member.data}, but=("metadata.npy",))


def test_an_object_array_header_is_refused_without_unpickling(saved, tmp_path):
    member = header_only("attention", object, (2, 2, 11, 39))
    with reads() as read:
        refused(archive(tmp_path / "r.npz", saved, member), "holds object")
    assert_only_headers_read(read, {**saved, member.name: member.data}, but=("metadata.npy",))


def test_a_member_cut_short_is_refused(saved, tmp_path):
    data = saved["attention.npy"]
    # The directory is honest about the stored bytes, but the data ends early: the CRC or the length says so.
    cut = Member("attention.npy", data[: len(data) // 2], STORED, len(data) // 2, zlib.crc32(data[: len(data) // 2]))
    refused(archive(tmp_path / "r.npz", saved, cut), f"attention.npy holds {len(data) // 2 - 128} bytes of data where")
    broken = deflated("attention.npy", data)
    broken.data = broken.data[: len(broken.data) // 2]
    refused(archive(tmp_path / "r2.npz", saved, broken), "Bad CRC-32 for file 'attention.npy'")


# ----- the arrays' values -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        ("attention", lambda a: a.__setitem__((1, 1, 3, 7), np.nan), "attention holds nan where probabilities"),
        ("attention", lambda a: a.__setitem__((0, 1, 2, 3), -0.25), "attention holds -0.25"),
        ("attention", lambda a: a.__setitem__((0, 0, 0, 0), 2.0), "attention holds 2.0"),
        ("attention", lambda a: a.__setitem__((0, 0, 0, 0), np.inf), "attention holds inf"),
        ("image_mass", lambda a: a.__setitem__((1, 0, 4), 1.5), "image_mass holds 1.5"),
        ("query_positions", lambda a: a.__setitem__(0, -3), "query_positions holds -3"),
        ("query_positions", lambda a: a.__setitem__(slice(2, 4), a[2:4][::-1].copy()), "not strictly increasing"),
        ("image_positions", lambda a: a.__setitem__(5, a[4]), "image_positions are not strictly increasing"),
        ("image_positions", lambda a: a.__setitem__(-1, 100), "position 100 is both a query row and an image column"),
    ],
)
def test_values_are_checked_as_they_are_read(saved, tmp_path, name, edit, message):
    array = np.load(io.BytesIO(saved[f"{name}.npy"])).copy()
    edit(array)
    refused(archive(tmp_path / "r.npz", replaced_array(saved, name, array)), message)


# ----- the metadata ---------------------------------------------------------------------------------------------


def edited(members: dict[str, bytes], edit: Callable[[dict], object]) -> dict[str, bytes]:
    metadata = metadata_of(members)
    edit(metadata)
    return with_metadata(members, metadata)


def token(index: int, **fields: Any) -> Callable[[dict], object]:
    return lambda metadata: metadata["tokens"][index].update(fields)


def image(index: int, **fields: Any) -> Callable[[dict], object]:
    return lambda metadata: metadata["images"][index].update(fields)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(format_version=True), "unsupported format version True"),
        (lambda m: m.update(format_version="2"), "unsupported format version '2'"),
        (lambda m: m.pop("tokens"), "its metadata has no 'tokens'"),
        (lambda m: m.update(prompt=7), "its prompt is 7, not text"),
        (lambda m: m.update(model=None), "its model is None, not text"),
        (lambda m: m.update(answer=["x"]), "its answer is ['x'], not text"),
        (lambda m: m.update(layer_ids=[0, -1]), "its layer_ids are [0, -1], not a list of layer indices"),
        (lambda m: m.update(layer_ids=[0, 0]), "repeat a layer"),
        (lambda m: m.update(layer_ids=[0, 1.0]), "not a list of layer indices"),
        (lambda m: m.update(layer_ids=[0, True]), "not a list of layer indices"),
        (lambda m: m.update(layer_ids=[0, 1, 2]), "3 layers"),
        (lambda m: m.update(tokens=[]), "its tokens are [], not a list of tokens"),
        (lambda m: m.update(images={}), "its images are {}, not a list of image grids"),
        (lambda m: m["tokens"].pop(), "needs [2, heads, 10, 39]"),
        (lambda m: m["tokens"].__setitem__(0, "Where"), "token 0 is 'Where', not a JSON object"),
        (lambda m: m["tokens"][0].pop("end"), "token 0 has no 'end'"),
        (token(0, colour="red"), "token 0 has an unknown 'colour'"),
        (token(0, text=5), "token 0's text 5 or special flag False has the wrong type"),
        (token(0, special="no"), "special flag 'no' has the wrong type"),
        (token(1, start=4, end=2), "token 1 (' is') has offsets 4..2, not within its prompt's 21 characters"),
        (token(1, start=-1), "has offsets -1..8"),
        (token(1, end=22), "has offsets 5..22, not within its prompt's 21 characters"),
        (token(1, end=None), "has offsets 5..None"),
        (token(1, start=5.0), "has offsets 5.0..8"),
        (token(8, end=40), "token 8 (' red') has offsets 2..40, not within its answer's 10 characters"),
        (token(1, part="system"), "is of part 'system', not 'prompt', 'thinking' or 'answer'"),
        (token(1, part=["prompt"]), "is of part ['prompt'], not 'prompt', 'thinking' or 'answer'"),
        (token(7, part="thinking"), "token 7 (' A') is a thinking token, but the file has no thinking"),
        (lambda m: m.update(answer=None), "is an answer token, but the file has no answer"),
        (token(7, probability=1.5), "token 7 (' A') has the probability 1.5, not one in [0, 1]"),
        (token(7, probability=-0.0001), "the probability -0.0001"),
        (token(7, probability=True), "the probability True"),
        (token(7, probability="high"), "the probability 'high'"),
        (image(0, rows=0), "image 0's grid is 0 x 6 tokens"),
        (image(0, cols=-6), "image 0's grid is 4 x -6 tokens"),
        (image(0, rows=4.0), "image 0's grid is 4.0 x 6 tokens"),
        (image(0, rows=True), "image 0's grid is True x 6 tokens"),
        (image(0, first_column=-1), "image 0's first_column is -1 where its tokens start at 0"),
        (image(1, first_column=23), "image 1's first_column is 23 where its tokens start at 24"),
        (image(1, resized_size=[0, 84]), "image 1's resized_size is [0, 84], not [width, height] in pixels"),
        (image(1, original_size=[250, 120, 3]), "image 1's original_size is [250, 120, 3]"),
        (image(1, original_size="250x120"), "image 1's original_size is '250x120'"),
        (image(0, note="x"), "image 0 is {"),
        (lambda m: m["images"][0].pop("first_column"), "not an image grid (rows, cols, resized_size"),
        (image(1, rows=30, cols=50), "attention is float32 [2, 2, 11, 39] where its metadata"),
        (lambda m: m["images"].pop(), "it holds 2 pictures where its images and video groups have 1"),
    ],
)
def test_metadata_fields_are_checked(saved, tmp_path, edit, message):
    refused(archive(tmp_path / "r.npz", edited(saved, edit)), message)


@pytest.fixture(scope="module")
def saved_thinking(tmp_path_factory) -> dict[str, bytes]:
    """The members of a saved result whose model thought ("Maybe red", tokens 7 to 10) before answering."""
    result = synthetic_answer_result(thinking_texts=THINKING_TEXTS)
    return members_of(result.save(tmp_path_factory.mktemp("thinking") / "result.npz"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(thinking=5), "its thinking is 5, not text"),
        (lambda m: m.update(thinking=["Maybe"]), "its thinking is ['Maybe'], not text"),
        (lambda m: m.update(thinking=None), "token 7 ('Maybe') is a thinking token, but the file has no thinking"),
        (token(8, end=40), "token 8 (' red') has offsets 5..40, not within its thinking's 9 characters"),
    ],
)
def test_the_thinking_is_checked_as_the_answer_is(saved_thinking, tmp_path, edit, message):
    refused(archive(tmp_path / "r.npz", edited(saved_thinking, edit)), message)


def test_a_file_without_thinking_key_loads_with_none(saved, tmp_path):
    """Files written before the thinking was kept (format 2 too) have no "thinking" in their metadata."""
    loaded = AttentionResult.load(archive(tmp_path / "r.npz", edited(saved, lambda m: m.pop("thinking"))))
    assert loaded.thinking is None and not loaded.still_thinking and loaded.answer == " A red cat"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "its metadata is list, not a JSON object"),
        ("{", "its metadata is not JSON (Expecting property name"),
        ("[" * 100_000 + "]" * 100_000, "its metadata nests lists or objects too deeply"),
        ('{"format_version": 2, "prompt": "' + "9" * 5000, "its metadata is not JSON (Unterminated string"),
    ],
)
def test_metadata_that_is_not_the_object_save_writes(saved, tmp_path, text, message):
    refused(archive(tmp_path / "r.npz", {**saved, "metadata.npy": npy(np.array(text))}), message)


# ----- the pictures ---------------------------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header says width x height RGB pixels, with a few rows of zeros for data: decoded, a
    decompression bomb (3 bytes a pixel)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(bytes((3 * width + 1) * 4), 9)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", rows) + png_chunk(b"IEND", b"")


def picture(data: bytes, index: int = 0) -> Member:
    return stored(f"picture_{index}.npy", npy(np.frombuffer(data, np.uint8)))


def test_a_png_that_declares_50000_by_50000_pixels_is_refused_from_its_header(saved, tmp_path):
    bomb = png_declaring(50_000, 50_000)
    # Its image says the same size: over PIL's own limit, refused with the metadata, before any member is read.
    same = archive(tmp_path / "same.npz", edited(saved, image(0, original_size=[50_000, 50_000])), picture(bomb))
    with costs_at_most(**BOUND):
        refused(same, "image 0 is 50000 x 50000 pixels, over 178956970 (PIL's limit)")
    # Its image says otherwise: the PNG's header disagrees with it.
    other = archive(tmp_path / "other.npz", saved, picture(bomb))
    with costs_at_most(**BOUND):
        refused(other, "picture 0 is 50000 x 50000 pixels, its image's original size 300 x 160")


def test_the_picture_limit_follows_pil(saved, tmp_path, monkeypatch):
    path = archive(tmp_path / "r.npz", saved)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    refused(path, "image 0 is 300 x 160 pixels, over 2000 (PIL's limit)")
    # Between PIL's warning and refusal limits: PIL's warning, as when the picture was captured ...
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40_000)
    with pytest.warns(Image.DecompressionBombWarning):
        AttentionResult.load(path)
    # ... and where warnings are errors, a one-line refusal.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        refused(path, "picture 0 is too large to decode here (Image size (48000 pixels) exceeds limit of 40000")


def test_pictures_that_are_not_the_png_save_wrote(saved, tmp_path):
    jpeg = io.BytesIO()
    Image.new("RGB", (300, 160)).save(jpeg, format="JPEG")
    refused(archive(tmp_path / "jpeg.npz", saved, picture(jpeg.getvalue())), "picture 0 is not a PNG file")
    png = np.load(io.BytesIO(saved["picture_0.npy"])).tobytes()
    refused(archive(tmp_path / "cut.npz", saved, picture(png[: len(png) // 2])), "picture 0 is a damaged PNG file")
    refused(archive(tmp_path / "short.npz", saved, picture(png[:20])), "picture 0 is not a PNG file")
    wrong_size = io.BytesIO()
    Image.new("RGB", (301, 160)).save(wrong_size, format="PNG")
    refused(archive(tmp_path / "size.npz", saved, picture(wrong_size.getvalue())), "picture 0 is 301 x 160 pixels")


def flat_png(width: int, height: int, depth: int = 8, colour: int = 2) -> bytes:
    """A valid PNG of width x height black pixels (`colour`: PNG colour type, 2 RGB), some 1000 times smaller than
    its pixels, built in a fraction of a second."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    rows = zlib.compress(bytes((channels * depth // 8 * width + 1) * height), 9)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", rows) + png_chunk(b"IEND", b"")


def video_members(tmp_path: Path, groups: int) -> dict[str, bytes]:
    return members_of(synthetic_video_result(groups=groups).save(tmp_path / "video.npz"))


def test_every_video_groups_picture_is_bounded_by_the_file_before_any_is_read(tmp_path):
    """12 groups of flat 4000 x 4000 pictures in half a MiB: each group's picture counts (the bound once counted
    one a video), and together they may decode to at most 100 times the file (or 256 MiB)."""
    members = edited(video_members(tmp_path, 12), image(0, original_size=[4000, 4000]))
    png = flat_png(4000, 4000)
    path = archive(tmp_path / "big.npz", members, *(picture(png, index) for index in range(12)))
    assert path.stat().st_size < MIB
    with costs_at_most(read_bytes=MIB, extra_bytes=50 * MIB):
        refused(path, "its 12 pictures would decode to 732.4 MiB from a 5", "at most 100 times the file's size")


def test_every_png_header_is_checked_before_any_picture_is_decoded(tmp_path, monkeypatch):
    members = video_members(tmp_path, 3)
    size = metadata_of(members)["images"][0]["original_size"]
    wrong = flat_png(size[0] + 1, size[1])
    decoded: list[object] = []
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", lambda self: decoded.append(self))
    refused(archive(tmp_path / "last.npz", members, picture(wrong, 2)), f"picture 2 is {size[0] + 1} x {size[1]}")
    assert decoded == []  # pictures 0 and 1 were not decoded for nothing
    deep = flat_png(*size, depth=16, colour=6)  # 8 bytes a pixel: past what the bounds count
    refused(archive(tmp_path / "deep.npz", members, picture(deep, 1)), "picture 1 has bit depth 16 and colour type 6")


def test_grey_and_rgba_pictures_still_load(tmp_path):
    result = synthetic_video_result(groups=2)
    for mode in ("L", "RGBA"):
        pictures = tuple(picture.convert(mode) for picture in result.pictures)
        loaded = AttentionResult.load(dataclasses.replace(result, pictures=pictures).save(tmp_path / f"{mode}.npz"))
        assert [picture.mode for picture in loaded.pictures] == [mode, mode]


def test_metadata_that_disagrees_with_what_can_be_derived_is_refused(saved, tmp_path):
    """Each check is one line: the image share of a row against its columns, the prompt against its tokens' text at
    their offsets, the tokens' parts in the order a capture writes them."""
    metadata = metadata_of(saved)
    mass = np.zeros(np.load(io.BytesIO(saved["image_mass.npy"])).shape, np.float32)
    refused(
        archive(tmp_path / "mass.npz", replaced_array(saved, "image_mass", mass)),
        "image_mass of layer 0, head 0, token 0 is 0 where its image columns add up to",
    )
    edited_prompt = "".join("x" if character != "x" else "y" for character in metadata["prompt"])
    first = metadata["tokens"][0]
    refused(
        archive(tmp_path / "prompt.npz", edited(saved, lambda m: m.update(prompt=edited_prompt))),
        f"token 0 ({first['text']!r}) has offsets {first['start']}..{first['end']}, where its prompt says",
        "the prompt and its tokens do not go together",
    )
    moved = edited(saved, lambda m: m["tokens"].insert(0, m["tokens"].pop()))
    refused(archive(tmp_path / "order.npz", moved), "token 1 is of part 'prompt' after a token of part 'answer'")


def test_metadata_over_its_cap_is_refused_before_it_is_read(saved, tmp_path, monkeypatch):
    monkeypatch.setattr("qvl_widget._result._MAX_METADATA_BYTES", 1000)
    with reads() as read:
        refused(archive(tmp_path / "r.npz", saved), "its metadata is <U", "not one text of at most 1000 bytes")
    assert list(read) == ["metadata.npy"]  # its header only: nothing else either
    assert_only_headers_read(read, saved)


def test_an_empty_metadata_text_and_a_cut_header_length(saved, tmp_path):
    refused(archive(tmp_path / "empty.npz", saved, header_only("metadata", "<U0", ())), "its metadata is <U0 []")
    cut = stored("attention.npy", b"\x93NUMPY\x02\x00\x10")
    refused(archive(tmp_path / "cut.npz", saved, cut), "attention.npy has an .npy header of 16 bytes")


@pytest.mark.parametrize("compress", [stored, deflated])
def test_any_damaged_byte_is_one_line_or_a_good_load(saved, tmp_path, compress):
    """Every single-byte change and every truncation of a small file: a one-line refusal (or, where the byte did
    not matter, e.g. in a zip field zipfile ignores, the same result), never another exception."""
    whole = write_zip(tmp_path / "whole.npz", [compress(name, data) for name, data in saved.items()]).read_bytes()
    original = AttentionResult.load(tmp_path / "whole.npz")
    generator = np.random.default_rng(7)
    damaged = [whole[:cut] for cut in generator.integers(0, len(whole), 40)]
    for offset in generator.integers(0, len(whole), 160):
        flipped = bytearray(whole)
        flipped[offset] ^= int(generator.integers(1, 256))
        damaged.append(bytes(flipped))
    path = tmp_path / "damaged.npz"
    for data in damaged:
        path.write_bytes(data)
        loaded = load_or_refusal(path)
        if isinstance(loaded, str):
            assert "\n" not in loaded and "qvl_widget result file" in loaded, loaded
        else:
            assert_same(loaded, original)


def load_or_refusal(path: Path) -> AttentionResult | str:
    try:
        return AttentionResult.load(path)
    except ValueError as error:
        return str(error)


def test_the_load_docstring_names_the_versions_it_reads():
    from qvl_widget._result import READABLE_FORMAT_VERSIONS

    versions = f"{READABLE_FORMAT_VERSIONS[0]} to {READABLE_FORMAT_VERSIONS[-1]}"
    assert list(READABLE_FORMAT_VERSIONS) == list(range(1, READABLE_FORMAT_VERSIONS[-1] + 1))
    assert f"format version of `READABLE_FORMAT_VERSIONS`: {versions})" in AttentionResult.load.__doc__
