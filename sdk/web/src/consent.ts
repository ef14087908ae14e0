// Upload consent: whether this page may upload to other viewers right now. Three
// parties decide, and any of them can say no: the operator (the tracker's policy:
// p2p_enabled, max_upload, applied by the swarm), the page (the `upload` option),
// and the viewer's connection (the Network Information API, where the browser has
// it: Chromium on Android and desktop; Firefox and Safari do not expose it). A
// metered connection means saveData (the user's "data saver") or type "cellular";
// uploading there costs the viewer money, so by default it does not happen.
// Downloading from neighbours stays on in every case: it saves the viewer data.

/** What the SDK reads of navigator.connection (NetworkInformation). */
export interface ConnectionInfo {
  saveData?: boolean;
  type?: string;
}

export interface ConsentOptions {
  /** false: this page never uploads (an opt-out the page offers its viewers). Default true. */
  upload?: boolean;
  /** true: upload even on a metered connection (saveData or cellular). Default false. */
  uploadOnMetered?: boolean;
}

/** Consent is the decision, with the reason when uploading is off. */
export interface Consent {
  upload: boolean;
  reason?: "page opted out" | "data saver on" | "cellular connection";
}

/** uploadConsent decides from the page's options and the connection, if known. */
export function uploadConsent(opts: ConsentOptions, conn?: ConnectionInfo): Consent {
  if (opts.upload === false) return { upload: false, reason: "page opted out" };
  if (!opts.uploadOnMetered && conn) {
    if (conn.saveData === true) return { upload: false, reason: "data saver on" };
    if (conn.type === "cellular") return { upload: false, reason: "cellular connection" };
  }
  return { upload: true };
}

/** browserConnection returns navigator.connection where the browser has it. */
export function browserConnection(): ConnectionInfo | undefined {
  const nav = (globalThis as { navigator?: { connection?: ConnectionInfo } }).navigator;
  return nav?.connection;
}
