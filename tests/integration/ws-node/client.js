// An aiomsg v1 peer over WebSocket with Node's `ws` package, for
// tests/integration/test_ws_node.py.
//
//   node client.js PORT IDENTITY_HEX OUT IN
//
// Connects to ws://127.0.0.1:PORT/, sends its HELLO, reads the daemon's,
// then sends OUT messages: "node-0".."node-<OUT-2>" (the first with its
// HELLO in one WebSocket message, three in one message, one aiomsg frame
// cut over two messages), a DATA_REQ "node-alo" whose ACK it waits for, and
// 100000 x "N"; and a HEARTBEAT every 500 ms.  It prints, one a line:
//   open extensions=<negotiated> protocol=<negotiated>
//   hello <daemon identity hex>
//   data <payload>           (payloads over 64 bytes: data big <len> <sha256>)
//   ack ok
//   close <code>
// and exits 0 once IN DATA frames and the ACK came and the close handshake
// ended; 2 after 20 s, 3 on any error (a text message, a bad frame).
'use strict';
const crypto = require('crypto');
const WebSocket = require('ws');

const [port, idHex, nOut, nIn] = process.argv.slice(2);
const HELLO = 1, HEARTBEAT = 2, DATA = 3, DATA_REQ = 4, ACK = 5;

function frame(type, body) {
  const b = Buffer.alloc(5 + body.length);
  b.writeUInt32BE(1 + body.length, 0);
  b[4] = type;
  body.copy(b, 5);
  return b;
}

function die(code, why) {
  process.stderr.write(`client.js: ${why}\n`);
  process.exit(code);
}

setTimeout(() => die(2, 'timed out'), 20000).unref();

const ws = new WebSocket(`ws://127.0.0.1:${port}/`);  // offers deflate
const reqId = crypto.randomBytes(16);
let stream = Buffer.alloc(0);
let got = 0, acked = false, helloSeen = false, closing = false, beat = null;

function maybeDone() {
  if (got === Number(nIn) && acked && !closing) {
    closing = true;
    clearInterval(beat);
    ws.close(1000, 'done');
  }
}

function sendOurs() {
  const out = [];
  for (let i = 0; i < Number(nOut) - 1; i++)
    out.push(frame(DATA, Buffer.from(`node-${i}`)));
  out.push(frame(DATA, Buffer.alloc(100000, 'N')));
  // out[0] went with the HELLO; then one message each, three in one
  // message, one frame cut over two messages.
  let i = 1;
  for (; i < 3 && i < out.length; i++) ws.send(out[i]);
  if (i + 3 <= out.length) {
    ws.send(Buffer.concat(out.slice(i, i + 3)));
    i += 3;
  }
  if (i < out.length) {
    ws.send(out[i].subarray(0, 3));
    ws.send(out[i].subarray(3));
    i++;
  }
  // The DATA_REQ before the last message: the daemon ACKs it once the
  // application took it, which the library tells when it takes the next.
  for (; i < out.length - 1; i++) ws.send(out[i]);
  ws.send(frame(DATA_REQ, Buffer.concat([reqId, Buffer.from('node-alo')])));
  ws.send(out[out.length - 1]);
}

ws.on('open', () => {
  console.log(`open extensions=${ws.extensions} protocol=${ws.protocol}`);
  const first = Number(nOut) > 0 ?
    frame(DATA, Buffer.from('node-0')) : Buffer.alloc(0);
  ws.send(Buffer.concat([frame(HELLO, Buffer.concat([Buffer.from([1]),
    Buffer.from(idHex, 'hex')])), first]));
  beat = setInterval(() => ws.send(frame(HEARTBEAT, Buffer.alloc(0))), 500);
});

ws.on('message', (msg, isBinary) => {
  if (!isBinary)
    die(3, 'a text message from the daemon');
  stream = Buffer.concat([stream, msg]);
  while (stream.length >= 4) {
    const n = stream.readUInt32BE(0);
    if (stream.length < 4 + n)
      break;
    const type = stream[4], body = stream.subarray(5, 4 + n);
    stream = stream.subarray(4 + n);
    if (type === HELLO) {
      if (helloSeen || body.length !== 17 || body[0] !== 1)
        die(3, `bad HELLO ${body.toString('hex')}`);
      helloSeen = true;
      console.log(`hello ${body.subarray(1).toString('hex')}`);
      sendOurs();
    } else if (!helloSeen) {
      die(3, `frame ${type} before HELLO`);
    } else if (type === DATA) {
      got++;
      if (body.length > 64)
        console.log(`data big ${body.length} ` +
          crypto.createHash('sha256').update(body).digest('hex'));
      else
        console.log(`data ${body.toString()}`);
    } else if (type === ACK) {
      if (!body.equals(reqId))
        die(3, `ACK for ${body.toString('hex')}`);
      acked = true;
      console.log('ack ok');
    } else if (type !== HEARTBEAT) {
      die(3, `unexpected frame type ${type}`);
    }
  }
  maybeDone();
});

ws.on('close', (code) => {
  console.log(`close ${code}`);
  process.exit(closing ? 0 : 3);
});

ws.on('error', (e) => die(3, `error: ${e.message}`));
