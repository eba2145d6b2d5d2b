// A WebSocket client on the npm `ws` package, for t/150-websocket.t:
//   node ws-node.js URL ORIGIN AFTER
// opens URL with Origin ORIGIN, sends {"type":"resume","after":AFTER}, prints
// "open", "message <text>" for each message, and after "resumed" closes with 1000 and
// prints "close <code>" (the code the server echoed). Exits after 10 s at most.
'use strict';
const path = require('path');
const WebSocket = require(path.join(__dirname, 'node', 'node_modules', 'ws'));

const [url, origin, after] = process.argv.slice(2);
const ws = new WebSocket(url, { origin, perMessageDeflate: false });
const timer = setTimeout(() => { console.log('timeout'); process.exit(1); }, 10000);
ws.on('open', () => {
  console.log('open');
  ws.send(JSON.stringify({ type: 'resume', after: Number(after) }));
});
ws.on('message', (data) => {
  const text = data.toString('utf8');
  console.log('message ' + text);
  if (JSON.parse(text).type === 'resumed') ws.close(1000, 'done');
});
ws.on('unexpected-response', (req, res) => { console.log('refused ' + res.statusCode); });
ws.on('error', (e) => { console.log('error ' + e.message); });
ws.on('close', (code) => {
  console.log('close ' + code);
  clearTimeout(timer);
  process.exit(0);
});
