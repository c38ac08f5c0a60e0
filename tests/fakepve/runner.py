"""Serve one fakepve (the fake Proxmox VE API) for the Rust integration tests.

Started by tests/it/fakepve.rs with the venv of scripts/fakepve-env. fakepve is AGPL: it is only
imported and run here, beside the tests, never copied into or shipped with NextGenRDP.

    python runner.py [--secret S] [--time-scale 0.01] [--template 9000:tmpl-debian:l26 ...]

The API listens on https://127.0.0.1:<free port> with a fresh self-signed certificate, knows the
token billing@pve!provisioner (secret from --secret or FAKEPVE_TOKEN_SECRET), node pve1 and storage
local-lvm, and holds the given templates (vmid:name:ostype, each with a 10G scsi0 on local-lvm).
When ready it prints one JSON line, {"url", "ca_pem", "control"}, and serves until killed or until
its stdin closes. A console (vncproxy + vncwebsocket) stays open after its first screen, as on a
real node, until the client closes it. The control server (plain HTTP, loopback) drives fakepve's fault injection:

    POST /fail {method, suffix, status?, message?, error?, times?}   pve.fail(...)
    POST /reset_failures                                            forget every injected failure
    POST /hold_lock {vmid, secs}     another task holds the VM config lock (secs in PVE seconds; null: until released)
    POST /release_lock {vmid}
    POST /time_scale {value}         real seconds per PVE second
    POST /flaky {drop_rate, hang_rate, hang_secs?, seed}
    POST /latency {value}            PVE seconds added to every API response
    POST /agent {vmid, running?}     the VM's guest agent answers (or, with running=false, does not)
    POST /storage {storage, avail}   bytes free on a storage (null: unlimited), to make disk allocations fail
    POST /interrupt_snapshot {vmid, name}  leave what a snapshot task killed half-way leaves: the VM
                                     locked (`snapshot`) and the snapshot in snapstate `prepare`
    POST /stats {vmid, stats}        status/current reports these (cpu, mem, netin, netout, diskread,
                                     diskwrite, ...) instead of its idle defaults
    POST /unlock {vmid}              what the operator does on the node then: `qm unlock` and
                                     `qm delsnapshot --force` of every half-made snapshot
    GET  /vms                        [{vmid, name, node, status, lock, config, pending, template, config_lock_held}]
    GET  /requests                   [[method, path], ...] of every API request seen
"""

import argparse
import asyncio
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time

from aiohttp import web
from fakepve import FakePve
from fakepve.certs import make_cert

HOST = '127.0.0.1'
NODE = 'pve1'
STORAGE = 'local-lvm'
TOKEN_ID = 'billing@pve!provisioner'
TEMPLATE_DISK_BYTES = 10 * 1024 ** 3
DEFAULT_TEMPLATES = ['9000:tmpl-debian:l26', '9001:tmpl-windows:win11']


def add_template(pve, spec):
    """Add a template VM from 'vmid:name:ostype' with a base disk on local-lvm, as `qm template` leaves it."""
    vmid, name, ostype = spec.split(':')
    vmid = int(vmid)
    volume = 'base-{0}-disk-0'.format(vmid)
    pve.storages[STORAGE].setdefault('volumes', {})[volume] = {
        'content': 'images', 'format': 'raw', 'size': TEMPLATE_DISK_BYTES, 'vmid': vmid, 'ctime': int(time.time())}
    config = {'ostype': ostype, 'cores': 1, 'memory': 1024, 'agent': '1', 'scsihw': 'virtio-scsi-single',
              'scsi0': '{0}:{1},size=10G'.format(STORAGE, volume), 'ide2': '{0}:vm-{1}-cloudinit,media=cdrom'
              .format(STORAGE, vmid), 'net0': 'virtio=BC:24:11:00:00:01,bridge=vmbr0', 'boot': 'order=scsi0',
              'template': 1}
    pve.add_vm(vmid, name, node=NODE, config=config, template=True)


def keep_consoles_open(pve):
    """fakepve's VNC server hangs up after its first screen update and one more client message;
    a real one keeps the session until the client leaves. Wrap it so the socket stays open after
    that (the client's further messages are read and ignored, as on a screen that does not
    change) until the client closes it."""
    import aiohttp
    first_screen = pve._rfb

    async def rfb(ws, vm, secret):
        await first_screen(ws, vm, secret)
        while not ws.closed:
            frame = await ws.receive()
            if frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                break
    pve._rfb = rfb


def vm_view(vm):
    """What GET /vms shows of a VM."""
    return {'vmid': vm.vmid, 'name': vm.name, 'node': vm.node, 'status': vm.status, 'lock': vm.lock,
            'config': vm.config, 'pending': vm.pending, 'template': vm.template,
            'config_lock_held': vm.lock_holder is not None}


def control_routes(pve):
    """The control API: fault injection and inspection of the fake's state."""

    async def body(request):
        return await request.json() if request.can_read_body else {}

    def answer(data=None):
        return web.json_response(data, dumps=lambda v: json.dumps(v, default=str))

    def refuse(err):
        return web.json_response({'error': str(err)}, status=400)

    async def fail(request):
        b = await body(request)
        try:
            pve.fail(b['method'], b['suffix'], status=b.get('status'), message=b.get('message'),
                     error=b.get('error'), times=b.get('times'))
        except (KeyError, TypeError, ValueError) as err:
            return refuse(err)
        return answer()

    async def reset_failures(request):
        pve.failures.clear()
        return answer()

    async def hold_lock(request):
        b = await body(request)
        try:
            await pve.hold_config_lock(int(b['vmid']), b.get('secs'))
        except Exception as err:  # noqa: BLE001 - the test gets the reason
            return refuse(err)
        return answer()

    async def release_lock(request):
        pve.release_config_lock(int((await body(request))['vmid']))
        return answer()

    async def time_scale(request):
        pve.time_scale = float((await body(request))['value'])
        return answer()

    async def flaky(request):
        b = await body(request)
        pve.flaky_network(drop_rate=b.get('drop_rate', 0.0), hang_rate=b.get('hang_rate', 0.0),
                          hang_secs=b.get('hang_secs', 120), seed=b.get('seed'))
        if b.get('seed') is not None:
            pve._random.seed(b['seed'])
        return answer()

    async def latency(request):
        pve.slow_network(float((await body(request))['value']))
        return answer()

    async def agent(request):
        b = await body(request)
        vm = pve.vm(int(b['vmid']))
        if vm is None:
            return refuse('no VM {0}'.format(b['vmid']))
        vm.agent = {} if b.get('running', True) else None
        return answer()

    async def storage(request):
        b = await body(request)
        store = pve.storages.get(b.get('storage'))
        if store is None:
            return refuse('no storage {0!r}'.format(b.get('storage')))
        if b.get('avail') is None:
            store.pop('avail', None)
        else:
            store['avail'] = int(b['avail'])
        return answer()

    async def interrupt_snapshot(request):
        b = await body(request)
        vm = pve.vm(int(b['vmid']))
        if vm is None:
            return refuse('no VM {0}'.format(b['vmid']))
        snap = dict((k, x) for k, x in vm.config.items() if k not in ('lock', 'description', 'parent'))
        snap.update(snapstate='prepare', snaptime=int(time.time()))
        vm.snapshots[b['name']] = snap
        vm.lock = 'snapshot'
        vm.config['lock'] = 'snapshot'
        return answer()

    async def stats(request):
        b = await body(request)
        vm = pve.vm(int(b['vmid']))
        if vm is None:
            return refuse('no VM {0}'.format(b['vmid']))
        vm.stats = dict(b.get('stats') or {})
        return answer()

    async def unlock(request):
        vm = pve.vm(int((await body(request))['vmid']))
        vm.lock = None
        vm.config.pop('lock', None)
        for name in [n for n, snap in vm.snapshots.items() if snap.get('snapstate')]:
            del vm.snapshots[name]
        return answer()

    async def vms(request):
        return answer([vm_view(vm) for vm in pve.vms])

    async def requests(request):
        return answer([[method, path] for method, path, _body in pve.requests])

    return [web.post('/fail', fail), web.post('/reset_failures', reset_failures),
            web.post('/hold_lock', hold_lock), web.post('/release_lock', release_lock),
            web.post('/time_scale', time_scale), web.post('/flaky', flaky), web.post('/agent', agent),
            web.post('/latency', latency),
            web.post('/storage', storage), web.post('/interrupt_snapshot', interrupt_snapshot),
            web.post('/unlock', unlock), web.post('/stats', stats), web.get('/vms', vms), web.get('/requests', requests)]


async def start_control(pve):
    """Serve the control API on a free loopback port; returns (runner, url)."""
    app = web.Application()
    app.add_routes(control_routes(pve))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, 'http://{0}:{1}'.format(HOST, port)


class DroppedConnections(logging.Filter):
    """Hides aiohttp's traceback for the connections /flaky drops on purpose."""

    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, ConnectionResetError) and 'fakepve: connection dropped' in str(exc))


def watch_stdin(loop, done):
    """Set `done` once stdin closes: the test process that started us is gone."""
    def read():
        for _line in sys.stdin:
            pass
        loop.call_soon_threadsafe(done.set)
    threading.Thread(target=read, daemon=True).start()


async def serve(args):
    logging.getLogger('aiohttp.server').addFilter(DroppedConnections())
    pve = FakePve(host=HOST, port=0)
    pve.time_scale = args.time_scale
    pve.apitokens[TOKEN_ID] = args.secret
    for spec in args.template or DEFAULT_TEMPLATES:
        add_template(pve, spec)
    keep_consoles_open(pve)
    tmp = tempfile.mkdtemp(prefix='fakepve-')
    try:
        certfile, keyfile, _der = make_cert(tmp, hosts=(HOST,))
        with open(certfile) as pem:
            ca_pem = pem.read()
        await pve.start(certfile, keyfile)
    finally:
        # The key is loaded; nothing needs the files any more.
        shutil.rmtree(tmp, ignore_errors=True)
    control, control_url = await start_control(pve)
    print(json.dumps({'url': pve.url, 'ca_pem': ca_pem, 'control': control_url}), flush=True)
    done = asyncio.Event()
    watch_stdin(asyncio.get_running_loop(), done)
    try:
        await done.wait()
    finally:
        await control.cleanup()
        await pve.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--secret', default=os.environ.get('FAKEPVE_TOKEN_SECRET'),
                        help='secret of the API token ' + TOKEN_ID + ' (or FAKEPVE_TOKEN_SECRET)')
    parser.add_argument('--time-scale', type=float, default=0.01, help='real seconds per PVE second')
    parser.add_argument('--template', action='append', metavar='VMID:NAME:OSTYPE',
                        help='a template VM (repeatable; default: ' + ' '.join(DEFAULT_TEMPLATES) + ')')
    args = parser.parse_args()
    if not args.secret:
        parser.error('give the token secret with --secret or FAKEPVE_TOKEN_SECRET')
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
