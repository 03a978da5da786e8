"""Standalone image-gateway double for the benchmark.

    python -m tests.doubles.image_gateway_double --port 0 --flavour aiearth --latency 2.0 \
        --realistic --format png

The first stdout line is the base URL to configure the bot with; the process runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from .models import FLAVOURS
from .server import ImageGatewayDouble


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.doubles.image_gateway_double")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--flavour", choices=sorted(FLAVOURS), default="gogogotoken-com")
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before the first image")
    parser.add_argument("--per-image-latency", type=float, default=0.0, help="seconds for each further image")
    parser.add_argument(
        "--realistic", action="store_true", help="noisy full-size images (1-2 MB JPEG per 2K)"
    )
    parser.add_argument("--format", choices=("png", "jpeg"), help="serve this format whatever was asked")
    parser.add_argument(
        "--image-scale", type=float, help="rendered/requested size (default 1 realistic, 1/32 not)"
    )
    parser.add_argument("--image-size", type=_dims, help="render every image at WxH, e.g. 64x64")
    parser.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="override whether the flavour streams",
    )
    parser.add_argument(
        "--models-endpoint",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="override whether GET {base}/models answers",
    )
    parser.add_argument("--forbidden", action="append", help="prompt word refused (repeatable)")
    parser.add_argument("--series-count", type=int, help="images a series makes (default max_images)")
    parser.add_argument("--max-concurrent", type=int, help="answer 429 above this many requests in flight")
    parser.add_argument(
        "--no-prewarm", action="store_true", help="do not pre-render 2048x2048 blobs at start"
    )
    return parser.parse_args(argv)


def _dims(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


async def serve(args: argparse.Namespace) -> None:
    double = ImageGatewayDouble(
        args.flavour,
        args.api_key,
        latency=args.latency,
        per_image_latency=args.per_image_latency,
        host=args.host,
        port=args.port,
        realistic=args.realistic,
        image_scale=args.image_scale,
        image_size=args.image_size,
        image_format=args.format,
        stream=args.stream,
        models_endpoint=args.models_endpoint,
        forbidden_words=args.forbidden or ("forbidden",),
        series_count=args.series_count,
        max_concurrent=args.max_concurrent,
    )
    if not args.no_prewarm:
        await double.prewarm([(2048, 2048)], [args.format] if args.format else ["jpeg", "png"])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with double:
        print(double.base_url, flush=True)
        await stop.wait()
    print(
        f"requests={len(double.requests)} generated={double.images_generated} "
        f"billed={double.images_billed} file_fetches={double.file_fetches}",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
