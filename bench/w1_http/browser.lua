-- W1b: wrk sends a browser-like request, about 500 bytes and 12 header
-- fields, as Chrome sends for a page:
--   wrk -t1 -c100 -d5s -s bench/w1_http/browser.lua http://127.0.0.1:PORT/
wrk.method = 'GET'
wrk.path = '/index.html?utm_source=bench&page=1'
wrk.headers = {
	['Host'] = '127.0.0.1',
	['Connection'] = 'keep-alive',
	['Cache-Control'] = 'max-age=0',
	['sec-ch-ua'] = '"Chromium";v="118", "Google Chrome";v="118", "Not=A?Brand";v="99"',
	['sec-ch-ua-mobile'] = '?0',
	['sec-ch-ua-platform'] = '"Linux"',
	['Upgrade-Insecure-Requests'] = '1',
	['User-Agent'] = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36',
	['Accept'] = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8',
	['Accept-Encoding'] = 'gzip, deflate, br',
	['Accept-Language'] = 'en-US,en;q=0.9',
	['Cookie'] = 'session=5f2a9c1e7b3d4a6f8e0c2b4d6f8a0c2e; theme=dark',
}
