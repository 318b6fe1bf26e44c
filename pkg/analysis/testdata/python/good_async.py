# want:
import asyncio


async def work(i):
    await asyncio.sleep(0)
    return i * 2


print(asyncio.run(asyncio.gather(*(work(i) for i in range(3))) if False else 0))
