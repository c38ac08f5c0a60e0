// The browser console page (templates/account/console.html): connects noVNC (static/novnc.js,
// vendored from @novnc/novnc by scripts/vendor-novnc) to our relay's websocket. The relay does
// the rest on the server: it spends the one-time link, answers the server's VNC password, and
// talks to Proxmox, which the browser never sees.
const screen = document.getElementById("console-screen");
const status = document.getElementById("console-status");
const buttons = {
  cad: document.getElementById("console-cad"),
  fullscreen: document.getElementById("console-fullscreen"),
  disconnect: document.getElementById("console-disconnect"),
};
const reconnect = document.getElementById("console-reconnect");

function say(text, state) {
  status.textContent = text;
  screen.dataset.state = state;
}

function closed(text) {
  say(text, "closed");
  Object.values(buttons).forEach((b) => { b.disabled = true; });
  // A new page makes a new one-time link.
  reconnect.href = window.location.pathname;
  reconnect.hidden = false;
}

async function start() {
  let RFB;
  try {
    ({ default: RFB } = await import(screen.dataset.novnc));
  } catch (err) {
    closed("The console could not load in this browser. Try an up-to-date Chrome, Firefox or Safari.");
    return;
  }
  const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + window.location.host + screen.dataset.socket, ["binary"]);
  socket.binaryType = "arraybuffer";
  // The relay says in its close frame why it closed (idle, time limit, the server stopped).
  let closeReason = "";
  socket.addEventListener("close", (event) => {
    if (!closeReason && event.reason) {
      closeReason = event.reason;
    }
  });

  const rfb = new RFB(screen, socket);
  rfb.scaleViewport = true;
  rfb.resizeSession = false;
  rfb.focusOnClick = true;
  rfb.background = "#111827";

  rfb.addEventListener("connect", () => {
    say("Connected. Click the screen to type.", "connected");
    Object.values(buttons).forEach((b) => { b.disabled = false; });
    rfb.focus();
  });
  rfb.addEventListener("securityfailure", (event) => {
    closeReason = event.detail.reason || "The server's console refused the connection.";
  });
  rfb.addEventListener("disconnect", (event) => {
    // Let the socket's close event land first: it carries the reason.
    setTimeout(() => {
      if (closeReason) {
        closed(closeReason);
      } else if (event.detail.clean) {
        closed("The console closed.");
      } else {
        closed("The connection to the console was lost. Connect again, or check your internet connection.");
      }
    }, 0);
  });
  rfb.addEventListener("desktopname", (event) => {
    screen.setAttribute("aria-label", "Screen of " + event.detail.name);
  });

  buttons.cad.addEventListener("click", () => { rfb.sendCtrlAltDel(); rfb.focus(); });
  buttons.disconnect.addEventListener("click", () => { closeReason = "You closed the console."; rfb.disconnect(); });
  buttons.fullscreen.addEventListener("click", () => {
    if (screen.requestFullscreen) {
      screen.requestFullscreen().catch(() => {});
    }
    rfb.focus();
  });
}

start();
