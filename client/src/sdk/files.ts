// Files over HTTP beside the WebSocket (docs/protocol.md 3.13): upload with progress and cancel, download with the
// session token in the Authorization header (never in the URL), and the server's refusals as typed errors.

/**
 * A file to upload: a browser Blob or File, or Node's Blob. Only what is used here is named, so the SDK's types
 * need neither the DOM nor Node's type definitions.
 */
export interface BlobLike {
  readonly size: number;
  /** A File's name (the default upload name). */
  readonly name?: string;
}

/** A downloaded file: a Blob (in a browser, hand it to URL.createObjectURL). */
export interface DownloadedBlob {
  readonly size: number;
  readonly type: string;
  arrayBuffer(): Promise<ArrayBuffer>;
  text(): Promise<string>;
}

/** An AbortSignal (the part used here). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/** An upload as the server stored it (the JSON answer of POST /v1/uploads). */
export interface UploadedFile {
  readonly id: string;
  readonly fileName: string;
  /** Detected from the bytes by the server. */
  readonly mediaType: string;
  readonly sizeBytes: number;
  /** Pixels for an image (PNG, JPEG, GIF, WebP); 0 otherwise. */
  readonly width: number;
  readonly height: number;
  /** "/v1/files/{id}/thumbnail" for an image, "" otherwise. */
  readonly thumbnailUrl: string;
  /** Attach it to a message before this time (ms since the epoch). */
  readonly expiresAtMs: number;
}

/** Why an upload or download failed: the server's `error` code, or "aborted" / "network". */
export type FileErrorCode =
  | "file-too-large"
  | "quota-exceeded"
  | "rate-limited"
  | "unauthenticated"
  | "empty-file"
  | "upload-stalled"
  | "not-found"
  | "unavailable"
  | "aborted"
  | "network"
  | "unknown";

export class FileError extends Error {
  override readonly name = "FileError";
  readonly code: FileErrorCode;
  /** The HTTP status; 0 when no answer arrived. */
  readonly status: number;
  constructor(code: FileErrorCode, status: number, message: string) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** The part of the browser's XMLHttpRequest used here (the SDK also builds for Node, which has none). */
interface Xhr {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: BlobLike): void;
  abort(): void;
  readonly status: number;
  readonly responseText: string;
  readonly upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
const XhrClass = (globalThis as { XMLHttpRequest?: new () => Xhr }).XMLHttpRequest;

/** The error in words for a person, e.g. under the message field. */
export const describeFileError = (e: unknown, maxBytes?: number): string => {
  if (!(e instanceof FileError)) return "The file could not be sent.";
  switch (e.code) {
    case "file-too-large":
      return maxBytes === undefined ? "That file is too large." : `That file is too large: the limit is ${formatBytes(maxBytes)}.`;
    case "quota-exceeded":
      return "You have no room left for more files.";
    case "rate-limited":
      return "Too many files at once: wait a minute and try again.";
    case "unauthenticated":
      return "Your session has ended: log in again.";
    case "empty-file":
      return "That file is empty.";
    case "upload-stalled":
    case "network":
      return "The connection dropped while sending the file: try again.";
    case "not-found":
      return "That file is not available.";
    case "unavailable":
      return "The server cannot store files right now: try again shortly.";
    case "aborted":
      return "Cancelled.";
    default:
      return e.message || "The file could not be sent.";
  }
};

/** 1536 -> "1.5 KB" (units of 1024, as file managers show them). */
export const formatBytes = (n: number): string => {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 10 ? Math.round(v) : Math.round(v * 10) / 10} ${units[u]}`;
};

/** The HTTP origin of a WebSocket URL: ws://host:8080/ws -> http://host:8080. */
export const httpBase = (wsUrl: string): string => {
  const u = new URL(wsUrl);
  return `${u.protocol === "wss:" ? "https:" : "http:"}//${u.host}`;
};

const errorOf = (status: number, body: string): FileError => {
  let code: FileErrorCode = "unknown";
  let message = `HTTP ${status}`;
  try {
    const json = JSON.parse(body) as { error?: string; message?: string };
    if (typeof json.error === "string") code = json.error as FileErrorCode;
    if (typeof json.message === "string") message = json.message;
  } catch {
    if (status === 413) code = "file-too-large";
  }
  return new FileError(code, status, message);
};

export interface UploadOptions {
  /** The name shown and offered for download (default: the File's name, or "file"). */
  readonly name?: string;
  /** Called with bytes sent so far and the total as the body goes out. */
  readonly onProgress?: (sent: number, total: number) => void;
  /** Aborts the upload; the promise then rejects with FileError "aborted" and the server keeps nothing. */
  readonly signal?: AbortSignalLike;
}

/**
 * POSTs `file` to `${base}/v1/uploads` with the bearer token. Uses XMLHttpRequest where there is one (a
 * browser: upload progress), else fetch (progress only at the end).
 */
export const uploadFile = (base: string, token: string, file: BlobLike, options: UploadOptions = {}): Promise<UploadedFile> => {
  const name = options.name ?? (typeof file.name === "string" && file.name !== "" ? file.name : "file");
  const url = `${base}/v1/uploads?name=${encodeURIComponent(name)}`;
  if (options.signal?.aborted) return Promise.reject(new FileError("aborted", 0, "cancelled"));
  if (XhrClass !== undefined) {
    return new Promise((resolve, reject) => {
      const xhr = new XhrClass();
      xhr.open("POST", url);
      xhr.setRequestHeader("Authorization", `Bearer ${token}`);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.upload.onprogress = (e) => options.onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
      const onAbort = () => xhr.abort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => options.signal?.removeEventListener("abort", onAbort);
      xhr.onload = () => {
        done();
        if (xhr.status === 201) {
          options.onProgress?.(file.size, file.size);
          resolve(JSON.parse(xhr.responseText) as UploadedFile);
        } else reject(errorOf(xhr.status, xhr.responseText));
      };
      xhr.onerror = () => {
        done();
        reject(new FileError("network", 0, "the upload failed"));
      };
      xhr.onabort = () => {
        done();
        reject(new FileError("aborted", 0, "cancelled"));
      };
      xhr.send(file);
    });
  }
  return fetch(url, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/octet-stream" },
    body: file as unknown as Blob,
    ...(options.signal ? { signal: options.signal as unknown as AbortSignal } : {}),
  }).then(
    async (res) => {
      const text = await res.text();
      if (res.status !== 201) throw errorOf(res.status, text);
      options.onProgress?.(file.size, file.size);
      return JSON.parse(text) as UploadedFile;
    },
    (e: unknown) => {
      throw options.signal?.aborted
        ? new FileError("aborted", 0, "cancelled")
        : new FileError("network", 0, e instanceof Error ? e.message : "the upload failed");
    },
  );
};

/** GETs `path` (/v1/files/{id} or its thumbnail) from `base` with the bearer token, as a Blob. */
export const downloadFile = async (base: string, token: string, path: string, signal?: AbortSignalLike): Promise<DownloadedBlob> => {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      headers: { Authorization: `Bearer ${token}` },
      ...(signal ? { signal: signal as unknown as AbortSignal } : {}),
    });
  } catch (e) {
    throw signal?.aborted
      ? new FileError("aborted", 0, "cancelled")
      : new FileError("network", 0, e instanceof Error ? e.message : "the download failed");
  }
  if (!res.ok) throw errorOf(res.status, await res.text());
  return res.blob();
};
