"""A local stand-in for the Seedream image gateways (OpenAI-Images compatible), for tests and the benchmark.

    async with ImageGatewayDouble(flavour="gogogotoken-com", api_key="test-key") as double:
        double.script(Fault.status(429, retry_after=1), times=3)
        ...  # point the bot at double.base_url

Run standalone: python -m tests.doubles.image_gateway_double --port 0 --flavour aiearth --realistic
"""

from .faults import Fault
from .imaging import Blob
from .models import FLAVOURS, Flavour, ModelRule
from .server import ImageGatewayDouble, RecordedRequest

__all__ = ["FLAVOURS", "Blob", "Fault", "Flavour", "ImageGatewayDouble", "ModelRule", "RecordedRequest"]
