"""Provisioning end to end through the real binary, against fakepve (the fake Proxmox VE API).

    cargo build && scripts/fakepve-env && \
      "$(scripts/fakepve-env)/bin/python" bench/provisioning_e2e.py [target/debug/nextgenrdp]

Starts fakepve (tests/fakepve/runner.py, time scale 0.01) and `nextgenrdp serve` on a fresh
embedded cluster in a temporary data dir, then drives the JSON API: an operator creates and
checks a Proxmox backend with a plan template and two addresses; a customer registers, verifies
from the mail file, orders, pays by manual transfer; the operator approves; the script reports
how long the service took to become active, reveals the credentials and asks for a reboot.
fakepve ends tasks in milliseconds: the time measured is NextGenRDP's own overhead.
"""
import json, subprocess, time, urllib.request, urllib.error, os, re, glob, sys, tempfile
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'target/debug/nextgenrdp')
WORK = tempfile.mkdtemp(prefix='ngr-e2e-')
os.chmod(WORK, 0o755)  # the embedded PostgreSQL runs as `postgres` when we are root
DATA = os.path.join(WORK, 'var')
BASE = 'http://127.0.0.1:8097'
fp = subprocess.Popen([sys.executable, os.path.join(ROOT, 'tests/fakepve/runner.py'), '--secret', 'tok-secret-1'], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
ready = json.loads(fp.stdout.readline())
print('fakepve at', ready['url'])
srv = subprocess.Popen([BIN, 'serve', '--data-dir', DATA, '--listen', '127.0.0.1:8097'], stdout=open(os.path.join(os.path.dirname(DATA), 'serve.log'), 'w'), stderr=subprocess.STDOUT, env=dict(os.environ, NEXTGENRDP_PUBLIC_URL=BASE, RUST_LOG='info',
    # The scripted operator has no authenticator app: this measures provisioning, not sign-in.
    NEXTGENRDP_OPERATOR_2FA='optional'))
for _ in range(300):
    try:
        urllib.request.urlopen(BASE+'/healthz'); break
    except Exception: time.sleep(0.2)
def call(method, path, body=None, token=None, expect=None):
    req = urllib.request.Request(BASE+path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header('content-type','application/json')
    if token: req.add_header('authorization','Bearer '+token)
    try:
        r = urllib.request.urlopen(req); code=r.status; text=r.read().decode()
    except urllib.error.HTTPError as e:
        code=e.code; text=e.read().decode()
    if expect and code!=expect: print('UNEXPECTED', method, path, code, text); 
    return code, (json.loads(text) if text and text[0] in '{[' else text)
subprocess.run([BIN,'user','create','--data-dir',DATA,'--email','owner@shop.pk','--name','Owner','--admin'], input=b'operator-passphrase-1\n', check=True)
_, a = call('POST','/api/v1/auth/login',{'email':'owner@shop.pk','password':'operator-passphrase-1'}, expect=200)
admin=a['access_token']
_, locs = call('GET','/api/v1/plans/rdp-business-two')
loc = locs['plan']['locations'][0]['id'] if 'plan' in locs else locs['locations'][0]['id']
code, b = call('POST','/api/v1/admin/backends',{'name':'pve-fra','driver':'proxmox','location_id':loc,'is_active':True,'api_url':ready['url'],'token_id':'billing@pve!provisioner','token_secret':'tok-secret-1','tls_ca_pem':ready['ca_pem'],'node':'pve1','storage':'local-lvm','bridge':'vmbr0','vmid_min':7000,'vmid_max':7100,'ip_gateway':'198.51.100.1','ip_prefix':24,'nameservers':'1.1.1.1'}, token=admin, expect=201)
bid = b['backend']['id'] if 'backend' in b else b['id']
print('backend', code, bid)
print('check', call('POST',f'/api/v1/admin/backends/{bid}/check',{},token=admin))
print('template', call('PUT',f'/api/v1/admin/backends/{bid}/templates/rdp-business-two',{'template_vmid':9001,'cores':4,'memory_mb':8192,'disk_gb':80,'username':'Administrator'},token=admin)[0])
print('pool', call('POST',f'/api/v1/admin/backends/{bid}/addresses',{'range':'198.51.100.10-198.51.100.11'},token=admin))
call('POST','/api/v1/auth/register',{'name':'Ayesha','email':'ayesha@example.pk','password':'correct-horse-battery'}, expect=201)
time.sleep(2)
mails = sorted(glob.glob(DATA+'/mail/*.eml'), key=os.path.getmtime)
tok = None
for m in mails:
    t = open(m).read().replace('=\n','')
    mm = re.search(r'verify-email\?token=3D([A-Za-z0-9_-]+)|verify-email\?token=([A-Za-z0-9_-]+)', t)
    if mm: tok = mm.group(1) or mm.group(2)
call('POST','/api/v1/auth/verify-email',{'token':tok}, expect=200)
_, c = call('POST','/api/v1/auth/login',{'email':'ayesha@example.pk','password':'correct-horse-battery'}, expect=200)
cust=c['access_token']
print('cart', call('POST','/api/v1/cart/items',{'plan_id':'rdp-business-two','location_id':loc,'quantity':1,'validity_months':1},token=cust)[0])
code, o = call('POST','/api/v1/orders',{},token=cust, expect=201)
oid=o['order']['id']
code, p = call('POST',f'/api/v1/orders/{oid}/payments',{'method':'manual','reference':'TID99887766','channel':'bank'},token=cust, expect=201)
t0=time.time()
print('approve', call('POST',f"/api/v1/admin/payments/{p['payment']['id']}/approve",{},token=admin)[0])
for _ in range(100):
    _, s = call('GET','/api/v1/services',token=cust)
    items = s['items'] if isinstance(s,dict) else s
    if items and items[0]['status'] in ('active','failed'): break
    time.sleep(0.2)
print('service after %.1fs:' % (time.time()-t0), json.dumps(items[0])[:600])
print('credentials', call('GET',f"/api/v1/services/{items[0]['id']}/credentials",token=cust))
print('order', call('GET',f'/api/v1/orders/{oid}',token=cust)[1].get('status'))
print('action', call('POST',f"/api/v1/services/{items[0]['id']}/actions",{'action':'reboot'},token=cust))
time.sleep(2)
print('detail logs', [ (l['action'],l['status']) for l in call('GET',f"/api/v1/services/{items[0]['id']}",token=cust)[1].get('logs',[])])
srv.terminate(); srv.wait(); fp.stdin.close(); fp.wait()
