"""Files we store carry none of the uploader's metadata: profile pictures, signatures and style training
images are uploaded with a JPEG comment, EXIF with a GPS position, XMP, an ICC profile, a Photoshop
APP13 segment, PNG tEXt/iTXt/zTXt/eXIf chunks and a private chunk; the stored bytes (walked chunk by
chunk, marker by marker) hold only image data, while a generated output still carries the platform's
own licence metadata and its C2PA manifest."""

from __future__ import annotations

import struct
from dataclasses import replace
from io import BytesIO

from PIL import Image, ImageCms, PngImagePlugin
from sqlalchemy import select

from stylelicense.extensions import db
from stylelicense.provenance import c2pa_manifest
from stylelicense.provenance.c2pa_manifest import CHAIN_PATH_ENV, KEY_PATH_ENV
from stylelicense.storage import get_storage
from stylelicense.styles.models import Artwork, Style
from stylelicense.users.models import Artist, User
from tests.test_styles_helpers import post_style, storage_root, upload_images
from workers.pipelines.signing import XMP_KEY, ImageLicense, _png_text, read_metadata
from workers.provenance.output_stage import finish_output

SECRET = b"SECRET-UPLOADER"
# Chunks and segments that are image data (JPEG: APP0 is the JFIF header Pillow writes itself).
PNG_IMAGE_CHUNKS = {"IHDR", "PLTE", "tRNS", "IDAT", "IEND"}
JPEG_IMAGE_MARKERS = {"APP0", "DQT", "SOF0", "SOF2", "DHT", "DRI", "SOS"}


def png_chunks(data: bytes) -> list[tuple[str, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append((data[pos + 4 : pos + 8].decode("latin-1"), data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def jpeg_markers(data: bytes) -> list[str]:
    assert data[:2] == b"\xff\xd8"
    names = {0xC0: "SOF0", 0xC2: "SOF2", 0xC4: "DHT", 0xDB: "DQT", 0xDD: "DRI", 0xDA: "SOS", 0xFE: "COM"}
    markers, pos = [], 2
    while pos < len(data):
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        markers.append(f"APP{marker - 0xE0}" if 0xE0 <= marker <= 0xEF else names.get(marker, hex(marker)))
        if marker == 0xDA:  # entropy-coded data follows: the header is over
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
    return markers


def assert_clean(data: bytes) -> None:
    """Only image data: no uploader segment or chunk, and the payload nowhere in the bytes."""
    if data[:2] == b"\xff\xd8":
        assert set(jpeg_markers(data)) <= JPEG_IMAGE_MARKERS, jpeg_markers(data)
    else:
        kinds = [kind for kind, _ in png_chunks(data)]
        assert set(kinds) <= PNG_IMAGE_CHUNKS, kinds
    assert SECRET not in data
    with Image.open(BytesIO(data)) as image:
        assert not image.getexif() and "icc_profile" not in image.info and "comment" not in image.info


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = SECRET.decode()  # ImageDescription
    exif[0x8825] = {1: "N", 2: (37.0, 33.0, 59.0), 3: "E", 4: (126.0, 58.0, 40.0)}  # GPS: where it was taken
    return exif.tobytes()


SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def dirty_jpeg(width: int, height: int, colour=(30, 120, 200)) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (width, height), colour).save(
        buffer,
        "JPEG",
        exif=_exif(),
        comment=SECRET + b" comment",
        icc_profile=SRGB,
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">' + SECRET + b" xmp</x:xmpmeta>",
    )
    data = buffer.getvalue()
    app13 = b"Photoshop 3.0\x00" + SECRET + b" irb"  # an APPn segment Pillow would never write
    segment = b"\xff\xed" + struct.pack(">H", len(app13) + 2) + app13
    data = data[:2] + segment + data[2:]
    assert {"COM", "APP1", "APP2", "APP13"} <= set(jpeg_markers(data))
    return data


def dirty_png(width: int, height: int, colour=(10, 10, 10, 255)) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SECRET.decode() + " tEXt")
    info.add_itxt(XMP_KEY, SECRET.decode() + " iTXt xmp")
    info.add_text("Author", SECRET.decode() + " zTXt", zip=True)
    info.add(b"prVt", SECRET + b" private chunk")
    buffer = BytesIO()
    Image.new("RGBA", (width, height), colour).save(buffer, "PNG", pnginfo=info, exif=_exif(), icc_profile=SRGB)
    data = buffer.getvalue()
    assert {"tEXt", "iTXt", "zTXt", "prVt", "eXIf", "iCCP"} <= {kind for kind, _ in png_chunks(data)}
    return data


def test_profile_pictures_are_stored_without_the_uploaders_metadata(app, client, login):
    me = login(client, "gps_alice")
    for name, data in (("me.jpg", dirty_jpeg(800, 600)), ("me.png", dirty_png(600, 600, (200, 30, 30, 255)))):
        response = client.patch(
            "/api/users/me", data={"profile_image": (BytesIO(data), name)}, content_type="multipart/form-data"
        )
        assert response.status_code == 200, response.get_json()
        with app.app_context():
            key = db.session.scalar(select(User.profile_image_key).where(User.id == me["id"]))
            assert_clean(get_storage().get(key, public=True))


def test_signatures_are_stored_without_the_uploaders_metadata(app, client, login):
    login(client, "gps_artist")
    response = client.post(
        "/api/users/me/upgrade-to-artist",
        data={
            "artist_name": "Gps Artist",
            "contact_email": "gps@studio.example",
            "signature_image": (BytesIO(dirty_png(300, 120, (0, 0, 0, 0))), "sig.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    with app.app_context():
        key = db.session.scalar(select(Artist.signature_image_key))
        stored = get_storage().get(key, public=False)
    assert_clean(stored)
    with Image.open(BytesIO(stored)) as image:
        assert image.mode == "RGBA"  # the transparency we keep is image data, not metadata


def test_style_images_and_their_copies_are_stored_without_the_uploaders_metadata(app, client, make_artist):
    make_artist(client, "gps_painter")
    uploads = upload_images(8) + [dirty_jpeg(800, 600), dirty_png(600, 600, (20, 200, 60, 255))]
    response = post_style(
        client, uploads, names=[f"a{i}.png" for i in range(8)] + ["x.jpg", "y.png"], title="Clean Files"
    )
    assert response.status_code == 201, response.get_json()
    root = storage_root(app)
    with app.app_context():
        style = db.session.scalar(select(Style))
        artworks = db.session.scalars(select(Artwork).where(Artwork.style_id == style.id)).all()
        files = [root / "private" / a.image_key for a in artworks] + [
            root / "private" / a.training_key for a in artworks
        ]
        files.append(root / "public" / style.thumbnail_key)
    assert len(files) == 21
    for path in files:
        assert_clean(path.read_bytes())


def test_a_generated_output_still_carries_our_licence_metadata_and_c2pa(app, client, login, tmp_path):
    """The signature stamped on an output is the cleaned stored one; the output's own metadata stays."""
    login(client, "gps_signer")
    client.post(
        "/api/users/me/upgrade-to-artist",
        data={
            "artist_name": "Gps Signer",
            "contact_email": "signer@studio.example",
            "signature_image": (BytesIO(dirty_png(300, 120, (0, 0, 0, 255))), "sig.png"),
        },
        content_type="multipart/form-data",
    )
    with app.app_context():
        stored = get_storage().get(db.session.scalar(select(Artist.signature_image_key)), public=False)
    chain = c2pa_manifest.generate_dev_chain(tmp_path / "c2pa")
    env = {"WATERMARK_KEY": "w" * 32, KEY_PATH_ENV: str(chain.signing_key), CHAIN_PATH_ENV: str(chain.cert_chain)}
    lic = ImageLicense(
        "Gps Signer",
        "Clean Files",
        "1",
        "2",
        "https://stylelicense.test/licences/SL-1",
        buyer="gps_buyer",
        created_at="2026-12-02T00:00:00Z",
    )
    with Image.open(BytesIO(stored)) as signature:
        signature.load()
        png, _, report = finish_output(
            Image.new("RGB", (512, 512), (120, 140, 160)),
            signature=signature,
            lic=lic,
            seed=3,
            serial=1,
            terms_version="sl-1.0",
            env=env,
        )
    assert report["c2pa"] and SECRET not in png
    chunks = png_chunks(png)
    ours = {kind for kind, _ in chunks} - PNG_IMAGE_CHUNKS
    assert {"iTXt", "eXIf", "caBX"} <= ours <= {"tEXt", "iTXt", "zTXt", "eXIf", "caBX"}
    keys = {body.split(b"\x00", 1)[0].decode("latin-1") for kind, body in chunks if kind in ("tEXt", "iTXt", "zTXt")}
    assert keys <= {XMP_KEY, *_png_text(replace(lic, licence_serial="SL-1"))}
    metadata = read_metadata(png)
    assert metadata["exif"]["Artist"] == "Gps Signer" and metadata["xmp"]["creator"] == ["Gps Signer"]
    assert c2pa_manifest.read_c2pa(png) is not None
