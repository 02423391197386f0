/**
 * A file-backed Blob as an answer's body. Bun sends such a Blob from the
 * file (sendfile); @hono/node-server reads a Blob whole into memory before it
 * writes it, so on Node it goes as a stream. Other bodies pass as they are.
 */
export const fileBody = (
  body: Blob | ReadableStream<Uint8Array>,
  runtime: string,
): Blob | ReadableStream<Uint8Array> => (body instanceof Blob && runtime !== "bun" ? body.stream() : body);
