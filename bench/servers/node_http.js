// node http plaintext server (keep-alive).  usage: node node_http.js [host] [port]
'use strict';
const http = require('http');
const host = process.argv[2] || '127.0.0.1';
const port = Number(process.argv[3] || 8080);
const body = Buffer.from('Hello, World!');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 121000;
server.listen({ host, port, backlog: 4096 });
