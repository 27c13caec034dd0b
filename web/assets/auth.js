// Staff sign-in against the stack's Cognito user pool, from the page: InitiateAuth (USER_PASSWORD_AUTH), answering
// NEW_PASSWORD_REQUIRED with RespondToAuthChallenge for an account made with a temporary password, and
// REFRESH_TOKEN_AUTH when the ID token (an hour) runs out. Tokens stay in sessionStorage: gone with the tab.
import { api, ApiError, config } from "./api.js";

const KEY = "complaint-desk.staff-session";
// Refreshed this long before it expires, so that a request never leaves with a token about to be refused.
const EARLY_MS = 60_000;

export class AuthError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

async function cognito(action, body) {
  const { cognito: pool } = await config();
  let response;
  try {
    response = await fetch(pool.endpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
      },
      body: JSON.stringify({ ClientId: pool.client_id, ...body }),
    });
  } catch {
    throw new AuthError("network");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new AuthError(String(data.__type || "").split("#").pop() || "error", data.message);
  return data;
}

function expiry(idToken) {
  try {
    const payload = idToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), "="))).exp * 1000;
  } catch {
    return 0;
  }
}

function keep(result, username, refreshToken) {
  const session = {
    username,
    idToken: result.IdToken,
    refreshToken: result.RefreshToken || refreshToken,
    expiresAt: expiry(result.IdToken),
  };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) || "null");
  } catch {
    return null;
  }
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** Signs in; resolves to {session} or, for a first sign-in, {challenge: "NEW_PASSWORD_REQUIRED", next}. */
export async function signIn(username, password) {
  const got = await cognito("InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH",
    AuthParameters: { USERNAME: username, PASSWORD: password },
  });
  if (got.AuthenticationResult) return { session: keep(got.AuthenticationResult, username) };
  if (got.ChallengeName === "NEW_PASSWORD_REQUIRED") {
    const next = async (newPassword) => {
      const done = await cognito("RespondToAuthChallenge", {
        ChallengeName: "NEW_PASSWORD_REQUIRED",
        Session: got.Session,
        ChallengeResponses: { USERNAME: username, NEW_PASSWORD: newPassword },
      });
      if (!done.AuthenticationResult) throw new AuthError(done.ChallengeName || "error");
      return keep(done.AuthenticationResult, username);
    };
    return { challenge: "NEW_PASSWORD_REQUIRED", next };
  }
  throw new AuthError(got.ChallengeName || "error", "unsupported sign-in challenge");
}

async function refresh(current) {
  if (!current?.refreshToken) throw new AuthError("NotAuthorizedException");
  const got = await cognito("InitiateAuth", {
    AuthFlow: "REFRESH_TOKEN_AUTH",
    AuthParameters: { REFRESH_TOKEN: current.refreshToken },
  });
  return keep(got.AuthenticationResult, current.username, current.refreshToken);
}

async function idToken(force = false) {
  let current = session();
  if (!current) throw new ApiError(401, "unauthorized");
  if (force || current.expiresAt - EARLY_MS < Date.now()) {
    try {
      current = await refresh(current);
    } catch {
      signOut();
      throw new ApiError(401, "unauthorized");
    }
  }
  return current.idToken;
}

/** An API call as the signed-in staff member; refreshes the token once if the gateway refuses it. */
export async function staffApi(path, options = {}) {
  const call = async (token) =>
    api(path, { ...options, headers: { ...(options.headers || {}), Authorization: `Bearer ${token}` } });
  try {
    return await call(await idToken());
  } catch (e) {
    if (e.status !== 401) throw e;
    return call(await idToken(true));
  }
}
