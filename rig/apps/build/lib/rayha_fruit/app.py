"""Fruit stand for the kubectl-rayha test rig.

FruitMarket takes a JSON body ``[fruit, amount]`` and asks the stand of that
fruit for the bill: ``amount * price``.  Each stand's price comes from its
``user_config`` (``{"price": N}``), so a Serve config can change prices without
a redeploy.  Defaults: Mango 3, Orange 2, Pear 1.  ``["PEAR", 12]`` -> ``12``.

Import path for a Serve config: ``rayha_fruit.app:deployment_graph``.
"""
import os
import socket

from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse


class _Stand:
    """One fruit's stand; the price is reconfigurable through user_config."""

    fruit = "fruit"
    default_price = 0

    def __init__(self):
        self.price = self.default_price

    def reconfigure(self, config: dict):
        self.price = int(config.get("price", self.default_price))

    def check_price(self, amount) -> int:
        return self.price * int(amount)

    def whoami(self) -> dict:
        ctx = serve.get_replica_context()
        return {
            "fruit": self.fruit,
            "replica": ctx.replica_tag if hasattr(ctx, "replica_tag") else str(ctx.replica_id),
            "host": socket.gethostname(),
            "node_ip": os.environ.get("RAYHA_POD_IP", ""),
            "pid": os.getpid(),
        }


@serve.deployment(name="MangoStand", user_config={"price": 3})
class MangoStand(_Stand):
    fruit, default_price = "MANGO", 3


@serve.deployment(name="OrangeStand", user_config={"price": 2})
class OrangeStand(_Stand):
    fruit, default_price = "ORANGE", 2


@serve.deployment(name="PearStand", user_config={"price": 1})
class PearStand(_Stand):
    fruit, default_price = "PEAR", 1


@serve.deployment(name="FruitMarket")
class FruitMarket:
    def __init__(self, mango, orange, pear):
        self.stands = {"MANGO": mango, "ORANGE": orange, "PEAR": pear}

    async def __call__(self, request: Request):
        if request.method == "GET" and request.query_params.get("whoami"):
            out = {"market": os.getpid()}
            for name, stand in self.stands.items():
                out[name] = await stand.whoami.remote()
            return JSONResponse(out)
        try:
            fruit, amount = await request.json()
        except Exception:  # noqa: BLE001 - any malformed body is a client error
            return JSONResponse({"error": 'expected a JSON body ["FRUIT", amount]'}, status_code=400)
        stand = self.stands.get(str(fruit).upper())
        if stand is None:
            return JSONResponse({"error": f"no stand sells {fruit!r}"}, status_code=404)
        return await stand.check_price.remote(amount)


deployment_graph = FruitMarket.bind(MangoStand.bind(), OrangeStand.bind(), PearStand.bind())
