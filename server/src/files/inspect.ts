// What an uploaded file is, decided from its bytes (file-type), never from the client's name or Content-Type;
// and, for the raster images served inline (PNG, JPEG, GIF, WebP), a re-encoded copy without metadata (EXIF,
// GPS, XMP, ICC comments: sharp writes none unless asked) plus a thumbnail and the dimensions.
import { open } from "node:fs/promises";
import { fileTypeFromBuffer } from "file-type";
import sharp from "sharp";

/** The only types ever served inline (Content-Disposition: inline); everything else is a download. */
export const INLINE_IMAGE_TYPES: ReadonlySet<string> = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/** A thumbnail fits in this square (pixels), keeping the aspect ratio, never enlarged. */
export const THUMBNAIL_SIZE = 320;
/** Images with more pixels than this are not decoded (a decompression bomb): they are kept as a download. */
export const MAX_IMAGE_PIXELS = 50_000_000;

export interface Inspected {
  readonly mediaType: string;
  readonly width: number;
  readonly height: number;
  /** For an image: the re-encoded bytes (metadata stripped, orientation applied) to store instead of the upload. */
  readonly image: Buffer | undefined;
  /** For an image: a JPEG thumbnail. */
  readonly thumbnail: Buffer | undefined;
}

const head = async (path: string): Promise<Buffer> => {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
};

/** Images decoded at once on this node (each may take up to MAX_IMAGE_PIXELS x 4 bytes); later ones wait. */
export const IMAGE_CONCURRENCY = 2;
let running = 0;
const waiting: Array<() => void> = [];
const slot = async <A>(f: () => Promise<A>): Promise<A> => {
  if (running >= IMAGE_CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await f();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
};

/**
 * Inspects the finished upload at `path`. An image sharp cannot decode (damaged, too many pixels) is kept as a
 * download of its detected type, without dimensions or thumbnail; this never fails for bad content.
 */
export const inspect = async (path: string): Promise<Inspected> => {
  const detected = await fileTypeFromBuffer(await head(path));
  const mediaType = detected?.mime ?? "application/octet-stream";
  const plain: Inspected = { mediaType, width: 0, height: 0, image: undefined, thumbnail: undefined };
  if (!INLINE_IMAGE_TYPES.has(mediaType)) return plain;
  return slot(() => processImage(path, mediaType, plain));
};

const processImage = async (path: string, mediaType: string, plain: Inspected): Promise<Inspected> => {
  try {
    const animated = mediaType === "image/gif" || mediaType === "image/webp";
    const input = sharp(path, { animated, limitInputPixels: MAX_IMAGE_PIXELS, failOn: "error" });
    // rotate() applies the EXIF orientation to the pixels, so the stripped copy still shows the right way up.
    const base = input.rotate();
    const encoded =
      mediaType === "image/png"
        ? base.png()
        : mediaType === "image/jpeg"
          ? base.jpeg({ quality: 90, mozjpeg: true })
          : mediaType === "image/gif"
            ? base.gif()
            : base.webp({ quality: 90 });
    const { data: image, info } = await encoded.toBuffer({ resolveWithObject: true });
    const height = info.pageHeight ?? info.height;
    const thumbnail = await sharp(image, { limitInputPixels: MAX_IMAGE_PIXELS })
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: "inside", withoutEnlargement: true })
      .flatten({ background: "#ffffff" })
      .jpeg({ quality: 80 })
      .toBuffer();
    return { mediaType, width: info.width, height, image, thumbnail };
  } catch {
    return plain;
  }
};
