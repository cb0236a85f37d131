// Validates an OpenAPI document (a file) against the OpenAPI 3.1 schema with
// @seriousme/openapi-schema-validator; prints the errors and exits 1 if it is not valid.
// usage: node validate_openapi.mjs FILE.json
import { readFileSync } from "fs";
import { Validator } from "@seriousme/openapi-schema-validator";

const document = JSON.parse(readFileSync(process.argv[2], "utf8"));
const validator = new Validator();
const result = await validator.validate(document);
if (!result.valid) {
  console.error(JSON.stringify(result.errors, null, 1));
  process.exit(1);
}
console.log(`valid OpenAPI ${validator.version}`);
