/**
 * Vectors from AWS's Signature Version 4 test suite (AWS General Reference, "Signature Version 4
 * test suite", aws-sig-v4-test-suite), typed in by hand: each request as its .req file shows it
 * and the Authorization header of its .authz file. Common to all: credentials AKIDEXAMPLE /
 * wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, region us-east-1, service "service",
 * 2015-08-30T12:36:00Z. Left out: vectors for line folding, dot-segment normalisation and
 * presigned URLs, which the oracle does not implement (see sigv4.ts).
 */
export const SUITE_SCOPE = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  region: 'us-east-1',
  service: 'service',
};

const H = 'Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z';
const SIG = (signedHeaders: string, signature: string) =>
  `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=${signedHeaders}, Signature=${signature}`;

export interface SuiteVector {
  name: string;
  /** The .req file: request line, headers, blank line, body. */
  req: string;
  /** The .creq file, where typed in. */
  creq?: string;
  authz: string;
}

export const SUITE: SuiteVector[] = [
  {
    name: 'get-vanilla',
    req: `GET / HTTP/1.1\n${H}\n\n`,
    creq: 'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    authz: SIG('host;x-amz-date', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'),
  },
  {
    name: 'get-vanilla-empty-query-key',
    req: `GET /?Param1=value1 HTTP/1.1\n${H}\n\n`,
    authz: SIG('host;x-amz-date', 'a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb'),
  },
  {
    name: 'get-vanilla-query-order-key-case',
    req: `GET /?Param2=value2&Param1=value1 HTTP/1.1\n${H}\n\n`,
    creq: 'GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    authz: SIG('host;x-amz-date', 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500'),
  },
  {
    name: 'get-unreserved',
    req: `GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\n${H}\n\n`,
    authz: SIG('host;x-amz-date', '07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f'),
  },
  {
    name: 'get-utf8',
    req: `GET /ሴ HTTP/1.1\n${H}\n\n`,
    creq: 'GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    authz: SIG('host;x-amz-date', '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85'),
  },
  {
    name: 'get-space',
    req: `GET /example space/ HTTP/1.1\n${H}\n\n`,
    authz: SIG('host;x-amz-date', '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741'),
  },
  {
    name: 'get-header-key-duplicate',
    req: `GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\nMy-Header1:value1\nX-Amz-Date:20150830T123600Z\n\n`,
    authz: SIG('host;my-header1;x-amz-date', 'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea'),
  },
  {
    name: 'get-header-value-order',
    req: `GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value4\nMy-Header1:value1\nMy-Header1:value3\nMy-Header1:value2\nX-Amz-Date:20150830T123600Z\n\n`,
    authz: SIG('host;my-header1;x-amz-date', '08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01'),
  },
  {
    name: 'get-header-value-trim',
    req: `GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: "a   b   c"\nX-Amz-Date:20150830T123600Z\n\n`,
    creq: 'GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:"a b c"\nx-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    authz: SIG('host;my-header1;my-header2;x-amz-date', 'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736'),
  },
  {
    name: 'post-vanilla',
    req: `POST / HTTP/1.1\n${H}\n\n`,
    authz: SIG('host;x-amz-date', '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'),
  },
  {
    name: 'post-vanilla-query',
    req: `POST /?Param1=value1 HTTP/1.1\n${H}\n\n`,
    authz: SIG('host;x-amz-date', '28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11'),
  },
  {
    name: 'post-header-key-sort',
    req: `POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value1\nX-Amz-Date:20150830T123600Z\n\n`,
    authz: SIG('host;my-header1;x-amz-date', 'c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c'),
  },
  {
    name: 'post-header-value-case',
    req: `POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:VALUE1\nX-Amz-Date:20150830T123600Z\n\n`,
    authz: SIG('host;my-header1;x-amz-date', 'cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d'),
  },
  {
    name: 'post-x-www-form-urlencoded',
    req: `POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded\n${H}\n\nParam1=value1`,
    creq: 'POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e',
    authz: SIG('content-type;host;x-amz-date', 'ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a'),
  },
  {
    name: 'post-x-www-form-urlencoded-parameters',
    req: `POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded; charset=utf8\n${H}\n\nParam1=value1`,
    authz: SIG('content-type;host;x-amz-date', '1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe'),
  },
];

/** A .req text as the oracle's request model. */
export function parseReq(text: string): { method: string; path: string; query: string; headers: [string, string][]; body: string } {
  const blank = text.indexOf('\n\n');
  const head = text.slice(0, blank).split('\n');
  const body = text.slice(blank + 2);
  const [method, target] = /^(\S+) (.*) HTTP\/1\.1$/.exec(head[0]!)!.slice(1) as [string, string];
  const q = target.indexOf('?');
  const headers = head.slice(1).map((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i), l.slice(i + 1)] as [string, string];
  });
  return { method, path: q < 0 ? target : target.slice(0, q), query: q < 0 ? '' : target.slice(q + 1), headers, body };
}
