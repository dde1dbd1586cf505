"""Joins the processes of a pytorch-distribution job: with torch, an all-reduce over gloo; without
it, a stand-in in which rank 0 listens on MASTER_ADDR:MASTER_PORT and every other rank reports in."""

import os
import socket
import time

rank = int(os.environ["RANK"])
world = int(os.environ["WORLD_SIZE"])
address, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
print(f"rank {rank} of {world} (local rank {os.environ['LOCAL_RANK']})")

try:
    import torch
    import torch.distributed as dist
except ImportError:
    torch = None

if torch is not None:
    dist.init_process_group("gloo", rank=rank, world_size=world)
    total = torch.tensor([rank + 1.0])
    dist.all_reduce(total)
    print(f"rank {rank}: all-reduce gives {total.item():.0f}")
    dist.destroy_process_group()
elif rank == 0:
    with socket.create_server((address, port)) as server:
        joined = []
        while len(joined) < world - 1:
            connection, _ = server.accept()
            with connection:
                joined.append(int(connection.recv(16).decode()))
        print(f"rank 0: all ranks joined: {sorted(joined)}")
else:
    for attempt in range(100):
        try:
            with socket.create_connection((address, port)) as connection:
                connection.sendall(str(rank).encode())
            break
        except OSError:
            time.sleep(0.1)
    print(f"rank {rank}: reported to rank 0")
