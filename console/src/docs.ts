// The API docs page (`/docs` on every role): Swagger UI, built into the binary with the console so that
// nothing is loaded from another host, reading this role's own `/openapi.json`.
import SwaggerUIBundle from 'swagger-ui-dist/swagger-ui-bundle.js';
import 'swagger-ui-dist/swagger-ui.css';

SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#docs',
  deepLinking: true,
  // "Try it out" sends the console's session cookie with the requests, as the console does.
  withCredentials: true,
  // No validator badge: it would call validator.swagger.io.
  validatorUrl: null,
});
