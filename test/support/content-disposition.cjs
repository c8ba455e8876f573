// @fastify/static (which serves /docs) require()s content-disposition 3, an ES module. Jest 29 on
// Node 20 cannot require an ES module, so under test that one import is mapped (jest.config.js)
// to the CommonJS 1.x release of the same function. The service itself uses the real package.
const contentDisposition = require('content-disposition-v1');

module.exports = { create: contentDisposition, parse: contentDisposition.parse };
