"""`openai/<model>`: the OpenAI API and every OpenAI-compatible server.

    api.py      OpenAIAPI: request bodies, replicas, the provider contract
    options.py  OpenAIOptions: the backend's own options (HTTP library, helper processes)
    sdk.py      the SDK's async clients, one raw POST, error mapping, response parsing
    pool.py     helper processes that run the SDK's HTTP work (runner side)
    worker.py   the helper process itself
"""

from .api import OpenAIAPI
from .options import OpenAIOptions

__all__ = ["OpenAIAPI", "OpenAIOptions"]
