"""A small DevTools-protocol client for Debian's headless chromium, over
--remote-debugging-pipe (fd 3: commands to the browser, fd 4: its replies
and events, each a JSON text ended by a NUL byte): no websocket library,
nothing from npm.

    with Browser(tmpdir) as b:
        page = b.open("file:///.../report.html")   # waits for the load event
        page.wait_for("document.body.dataset.rendered")
        value = page.eval("1 + 1")
        png = page.screenshot()
        page.requests, page.dialogs, page.exceptions, page.logs  # events seen

The browser runs offline: every proxy points at a closed port and every
host name resolves to nothing, so a request that does leave the page fails
(and is still seen in page.requests, which is what the tests check).
"""

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time


def chromium_path():
    for name in ("chromium", "chromium-browser"):
        p = shutil.which(name)
        if p:
            return p
    return None


class Page:
    def __init__(self, browser, session):
        self.b = browser
        self.session = session
        self.requests = []      # URLs of Network.requestWillBeSent
        self.dialogs = []       # messages of alert/confirm/prompt
        self.exceptions = []    # uncaught exceptions
        self.logs = []          # console and browser log lines (CSP reports)
        self.loaded = False     # Page.loadEventFired seen

    def send(self, method, params=None, timeout=30):
        return self.b.call(method, params or {}, self.session, timeout)

    def event(self, msg):
        m, p = msg.get("method"), msg.get("params", {})
        if m == "Page.loadEventFired":
            self.loaded = True
        elif m == "Network.requestWillBeSent":
            self.requests.append(p["request"]["url"])
        elif m == "Page.javascriptDialogOpening":
            self.dialogs.append(p.get("message"))
            self.b.call_async("Page.handleJavaScriptDialog", {"accept": True}, self.session)
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.exceptions.append(d.get("exception", {}).get("description") or d.get("text"))
        elif m == "Runtime.consoleAPICalled":
            self.logs.append(" ".join(str(a.get("value", a.get("description")))
                                      for a in p.get("args", [])))
        elif m == "Log.entryAdded":
            self.logs.append(p["entry"].get("text", ""))

    def eval(self, expr, timeout=30):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True}, timeout)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait_for(self, expr, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                v = self.eval(expr)
            except RuntimeError:  # a context replaced by a navigation: ask again
                v = None
            if v:
                return v
            self.b.pump(0.05)
        raise TimeoutError("page never had " + expr)

    def screenshot(self):
        m = self.send("Page.getLayoutMetrics")
        size = m.get("cssContentSize") or m["contentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 4000),
                "scale": 1}
        r = self.send("Page.captureScreenshot", {"format": "png", "clip": clip,
                                                 "captureBeyondViewport": True})
        return base64.b64decode(r["data"])


class Browser:
    def __init__(self, tmpdir, width=1280, height=900):
        self.tmpdir = tmpdir
        self.size = (width, height)
        self.next_id = 0
        self.buf = b""
        self.replies = {}
        self.pages = {}
        self.proc = None

    def __enter__(self):
        exe = chromium_path()
        if not exe:
            raise RuntimeError("chromium is not installed (apt-get install chromium)")
        to_b = os.pipe()    # we write [1], the browser reads fd 3
        from_b = os.pipe()  # the browser writes fd 4, we read [0]
        child = [fcntl.fcntl(to_b[0], fcntl.F_DUPFD, 10), fcntl.fcntl(from_b[1], fcntl.F_DUPFD, 10)]

        def fds():
            os.dup2(child[0], 3)
            os.dup2(child[1], 4)

        os.makedirs(self.tmpdir, exist_ok=True)
        profile = os.path.join(self.tmpdir, "chromium-profile")
        args = [exe, "--headless", "--disable-gpu", "--remote-debugging-pipe",
                "--user-data-dir=" + profile, "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-sync",
                "--disable-component-update", "--disable-default-apps", "--mute-audio",
                "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--window-size=%d,%d" % self.size, "--hide-scrollbars", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses root with its sandbox
        env = dict(os.environ, HOME=self.tmpdir, XDG_CONFIG_HOME=self.tmpdir,
                   XDG_CACHE_HOME=self.tmpdir)
        self.log = open(os.path.join(self.tmpdir, "chromium.log"), "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, close_fds=False, preexec_fn=fds, env=env)
        for fd in (to_b[0], from_b[1], child[0], child[1]):
            os.close(fd)
        self.w, self.r = to_b[1], from_b[0]
        return self

    def __exit__(self, *exc):
        try:
            if self.proc.poll() is None:
                self.call_async("Browser.close", {})
                self.proc.wait(timeout=10)
        except Exception:
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.w, self.r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()

    def call_async(self, method, params, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def call(self, method, params, session=None, timeout=30):
        i = self.call_async(method, params, session)
        end = time.monotonic() + timeout
        while i not in self.replies:
            if time.monotonic() > end:
                raise TimeoutError(method)
            self.pump(end - time.monotonic())
        r = self.replies.pop(i)
        if "error" in r:
            raise RuntimeError("%s: %s" % (method, r["error"]))
        return r.get("result", {})

    def pump(self, timeout):
        """Reads what the browser sent within timeout; events go to pages."""
        if self.proc.poll() is not None:
            raise RuntimeError("chromium exited with status %s (see %s)" % (
                self.proc.returncode, os.path.join(self.tmpdir, "chromium.log")))
        ready, _, _ = select.select([self.r], [], [], max(0.0, timeout))
        if not ready:
            return
        data = os.read(self.r, 1 << 20)
        if not data:
            raise RuntimeError("chromium closed the DevTools pipe")
        self.buf += data
        while b"\0" in self.buf:
            raw, self.buf = self.buf.split(b"\0", 1)
            msg = json.loads(raw)
            if "id" in msg:
                self.replies[msg["id"]] = msg
            elif msg.get("sessionId") in self.pages:
                self.pages[msg["sessionId"]].event(msg)

    def open(self, url, timeout=30):
        """A new tab with every event recorded from before it loads url."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        self.pages[session] = page
        for domain in ("Network", "Page", "Runtime", "Log"):
            page.send(domain + ".enable")
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": self.size[0], "height": self.size[1], "deviceScaleFactor": 1,
                   "mobile": False})
        page.send("Page.navigate", {"url": url}, timeout)
        end = time.monotonic() + timeout
        while not page.loaded:
            if time.monotonic() > end:
                raise TimeoutError("no load event for " + url)
            self.pump(end - time.monotonic())
        return page
