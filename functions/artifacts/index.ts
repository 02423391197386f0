/** Boot artifacts (`/boot/v1/artifacts`): metadata, uploads and the content nodes fetch. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { artifactContent, artifactContentRoute } from "./content";
import {
  createArtifact,
  createArtifactRoute,
  deleteArtifact,
  deleteArtifactRoute,
  getArtifact,
  getArtifactRoute,
  listArtifacts,
  listArtifactsRoute,
} from "./metadata";
import {
  abortUpload,
  abortUploadRoute,
  completeUpload,
  completeUploadRoute,
  PART_PATH,
  startUpload,
  startUploadRoute,
  uploadPart,
  uploadPartRoute,
} from "./multipart";
import { UPLOAD_PATH as CONTENT_PATH, uploadArtifact, uploadArtifactRoute } from "./upload";

/** Paths whose bodies are streamed bytes (a whole upload, one part): no JSON check, no body limit. */
export const UPLOAD_PATH = new RegExp(`${CONTENT_PATH.source}|${PART_PATH.source}`);

export function registerArtifacts(app: OpenAPIHono<AppEnv>) {
  app.openapi(listArtifactsRoute, listArtifacts);
  app.openapi(createArtifactRoute, createArtifact);
  app.openapi(getArtifactRoute, getArtifact);
  app.openapi(deleteArtifactRoute, deleteArtifact);
  app.openapi(uploadArtifactRoute, uploadArtifact);
  app.openapi(startUploadRoute, startUpload);
  app.openapi(uploadPartRoute, uploadPart);
  app.openapi(completeUploadRoute, completeUpload);
  app.openapi(abortUploadRoute, abortUpload);
  registerArtifactContent(app);
}

/** The content route alone: all an edge serves of artifacts. */
export function registerArtifactContent(app: OpenAPIHono<AppEnv>) {
  app.openapi(artifactContentRoute, artifactContent);
}
