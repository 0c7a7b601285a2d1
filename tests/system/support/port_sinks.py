#!/usr/bin/env python3
"""Line sinks on many loopback ports in one process, for placement tests.

    port_sinks.py COUNT OUT PORTS_FILE [SECONDS]

Listens on COUNT ports of 127.0.0.1 (picked by the kernel), writes them to
PORTS_FILE as one line "p0 p1 ...", and appends each line received on the
i-th port to OUT as "i LINE". Exits after SECONDS (default 300).
"""
import asyncio
import os
import sys


async def main():
    count, out_path, ports_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    limit = float(sys.argv[4]) if len(sys.argv) > 4 else 300.0
    out = open(out_path, 'ab', buffering=0)

    async def serve(index, reader, writer):
        prefix, pending = b'%d ' % index, b''
        while data := await reader.read(65536):
            *lines, pending = (pending + data).split(b'\n')
            if lines:
                out.write(b''.join(prefix + line + b'\n' for line in lines))
        writer.close()

    servers = [await asyncio.start_server(lambda r, w, i=i: serve(i, r, w), '127.0.0.1', 0)
               for i in range(count)]
    with open(ports_path + '.tmp', 'w') as f:
        f.write(' '.join(str(s.sockets[0].getsockname()[1]) for s in servers) + '\n')
    os.rename(ports_path + '.tmp', ports_path)
    await asyncio.sleep(limit)


asyncio.run(main())
