import type { ServerResponse } from 'node:http';
import { sendText, type EmuRequest } from '../http.ts';
import type { Org } from '../context.ts';
import { escapeXml } from './params.ts';

/** Client id recorded on sessions opened by SOAP `login()` (they belong to no connected app). */
export const SOAP_CLIENT_ID = 'SfdcPartnerSoapApi';

const XML = 'text/xml;charset=UTF-8';
const ENVELOPE_OPEN = '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"';

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_m, e: string) => {
    switch (e) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(e.startsWith('#x') ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    }
  });
}

/** The text of the first `<name>` element (any namespace prefix). */
function element(xml: string, name: string): string | undefined {
  const m = new RegExp(`<(?:[\\w-]+:)?${name}(?:\\s[^>]*)?>([^<]*)</(?:[\\w-]+:)?${name}>`).exec(xml);
  return m?.[1] === undefined ? undefined : unescapeXml(m[1]);
}

function fault(res: ServerResponse, code: string, message: string, faultType = 'UnexpectedErrorFault'): void {
  sendText(
    res,
    500,
    XML,
    `${ENVELOPE_OPEN} xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>` +
      `<faultcode>sf:${code}</faultcode><faultstring>${escapeXml(`${code}: ${message}`)}</faultstring><detail><sf:${faultType} xsi:type="sf:${faultType}">` +
      `<sf:exceptionCode>${code}</sf:exceptionCode><sf:exceptionMessage>${escapeXml(message)}</sf:exceptionMessage></sf:${faultType}></detail>` +
      `</soapenv:Fault></soapenv:Body></soapenv:Envelope>`,
  );
}

function body(inner: string): string {
  return `${ENVELOPE_OPEN} xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>${inner}</soapenv:Body></soapenv:Envelope>`;
}

/**
 * `POST /services/Soap/u/{version}`: the partner API's `login` and `logout` calls (what jsforce's
 * `conn.login(user, pass)` uses when no OAuth client is configured). Other calls get a fault.
 */
export async function handleSoap(req: EmuRequest, res: ServerResponse, org: Org): Promise<void> {
  const version = req.params['apiVersion'] ?? '';
  let xml: string;
  try {
    xml = (await req.body(1024 * 1024)).toString('utf8');
  } catch {
    fault(res, 'INVALID_REQUEST', 'request too large');
    return;
  }
  if (!/^\d{2}\.\d$/.test(version)) {
    fault(res, 'UNSUPPORTED_API_VERSION', `Invalid Api version specified on URL: ${version}`);
    return;
  }
  if (/<(?:[\w-]+:)?login[\s>]/.test(xml)) {
    const username = element(xml, 'username') ?? '';
    const user = org.auth.checkPassword(username, element(xml, 'password') ?? '');
    if (!user) {
      fault(res, 'INVALID_LOGIN', 'Invalid username, password, security token; or user locked out.', 'LoginFault');
      return;
    }
    const { session } = org.auth.issue(user, SOAP_CLIENT_ID, { scope: 'api web full' });
    const p = org.auth.profile(user);
    const org15 = org.orgId.slice(0, 15);
    const ttl = org.options.tokenTtlSeconds ?? 7200;
    sendText(
      res,
      200,
      XML,
      body(
        `<loginResponse><result><metadataServerUrl>${org.baseUrl}/services/Soap/m/${version}/${org15}</metadataServerUrl>` +
          `<passwordExpired>false</passwordExpired><sandbox>false</sandbox><serverUrl>${org.baseUrl}/services/Soap/u/${version}/${org15}</serverUrl>` +
          `<sessionId>${escapeXml(session.accessToken)}</sessionId><userId>${user.userId}</userId><userInfo>` +
          `<accessibilityMode>false</accessibilityMode><currencySymbol>$</currencySymbol><orgAttachmentFileSizeLimit>5242880</orgAttachmentFileSizeLimit>` +
          `<orgDefaultCurrencyIsoCode>USD</orgDefaultCurrencyIsoCode><orgDisallowHtmlAttachments>false</orgDisallowHtmlAttachments><orgHasPersonAccounts>false</orgHasPersonAccounts>` +
          `<organizationId>${org.orgId}</organizationId><organizationMultiCurrency>false</organizationMultiCurrency><organizationName>forceflow emulator</organizationName>` +
          `<profileId>00e${org.orgId.slice(3)}</profileId><roleId xsi:nil="true"/><sessionSecondsValid>${ttl}</sessionSecondsValid>` +
          `<userDefaultCurrencyIsoCode xsi:nil="true"/><userEmail>${escapeXml(p.email)}</userEmail><userFullName>${escapeXml(p.name)}</userFullName>` +
          `<userId>${user.userId}</userId><userLanguage>${p.language}</userLanguage><userLocale>${p.locale}</userLocale><userName>${escapeXml(user.username)}</userName>` +
          `<userTimeZone>${p.timezone}</userTimeZone><userType>Standard</userType><userUiSkin>Theme3</userUiSkin></userInfo></result></loginResponse>`,
      ),
    );
    return;
  }
  if (/<(?:[\w-]+:)?logout[\s/>]/.test(xml)) {
    const sessionId = element(xml, 'sessionId');
    const session = sessionId === undefined ? undefined : org.auth.authenticate(sessionId);
    if (!session && (sessionId === undefined || !org.auth.refreshGrant(sessionId))) {
      fault(res, 'INVALID_SESSION_ID', 'Invalid Session ID found in SessionHeader: Illegal Session');
      return;
    }
    org.auth.revoke(sessionId ?? '');
    sendText(res, 200, XML, body('<logoutResponse/>'));
    return;
  }
  fault(res, 'UNKNOWN_EXCEPTION', 'The forceflow emulator implements only login and logout of the SOAP partner API.');
}
