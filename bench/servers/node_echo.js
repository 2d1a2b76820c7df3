// node net echo server.  usage: node node_echo.js [host] [port]
'use strict';
const net = require('net');
const host = process.argv[2] || '127.0.0.1';
const port = Number(process.argv[3] || 9000);
net.createServer({ noDelay: true }, (sock) => {
  sock.on('data', (d) => sock.write(d));
  sock.on('error', () => sock.destroy());
}).listen({ host, port, backlog: 4096 });
