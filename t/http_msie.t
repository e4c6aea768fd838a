#!/usr/bin/perl
# msie_padding and msie_refresh as nginx does them: the built-in error
# pages (400 and up) of MSIE and Chrome clients carry six lines of padding
# comments (msie_padding on, the default), other browsers' and a 3xx's do
# not, msie_padding off drops them; with msie_refresh on an MSIE client
# gets a 301/302 as a 200 page that refreshes to the location (escaped,
# relative as given, no Location header), others the redirect. Each
# answer asserted, and compared with Debian's nginx on the same http {}
# block when installed.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use WmHttpClient;
use WmNginx;

my $t = WmTest->new(timeout => 60);
my $P = $t->prefix;
my ($wport, $nport) = ($t->port, $t->port);
$t->write_file('html/a.txt', "a\n");

sub http_body {
    my $port = shift;
    return <<"END";
    default_type text/plain;
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root $P/html;
        location /nopad/ { msie_padding off; }
        location = /moved { return 302 /a.txt; }
        location = /refresh { msie_refresh on; return 301 /a.txt; }
        location = /odd { msie_refresh on; return 302 "/a b\\"c<d>'e%f\xc3\xa9g&h"; }
        location = /abs { msie_refresh on;
                          rewrite ^ http://example.test/q?a=1 permanent; }
    }
END
}

my ($ng, $nginx_up, $wm_up) =
  WmNginx::start_pair($t, \&http_body, $wport, $nport);
$wm_up or do { $t->done; exit };

my $MSIE = 'User-Agent: Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1)';
my $CHROME = 'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 '
  . '(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
my $FIREFOX = 'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) '
  . 'Gecko/20100101 Firefox/120.0';
my $OPERA = 'User-Agent: Opera/9.80 (compatible; MSIE 8.0)';
my $pad = "<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n"
  x 6;
my $head = '<html><head><meta http-equiv="Refresh" content="0; URL=';
my $tail = qq{"></head><body></body></html>\r\n};

# [ name, request, [ headers ], status, padded (1/0) or the page ]
my @req = (
    [ 'MSIE: a 404 is padded', 'GET /none', [ $MSIE ], 404, 1 ],
    [ 'Chrome: a 404 is padded', 'GET /none', [ $CHROME ], 404, 1 ],
    [ 'Firefox: not padded', 'GET /none', [ $FIREFOX ], 404, 0 ],
    [ 'Opera saying MSIE: not padded', 'GET /none', [ $OPERA ], 404, 0 ],
    [ 'no User-Agent: not padded', 'GET /none', [], 404, 0 ],
    [ 'msie_padding off', 'GET /nopad/none', [ $MSIE ], 404, 0 ],
    [ 'a 302 is not padded', 'GET /moved', [ $MSIE ], 302, 0 ],
    [ 'a 405 is padded', 'POST /a.txt', [ $CHROME, 'Content-Length: 0' ],
        405, 1 ],
    [ 'msie_refresh: MSIE gets a refresh page', 'GET /refresh', [ $MSIE ],
        200, "$head/a.txt$tail" ],
    [ 'msie_refresh: its URL escaped', 'GET /odd', [ $MSIE ], 200,
        "$head/a%20b%22c%3Cd%3E%27e%f%C3%A9g&h$tail" ],
    [ 'msie_refresh: an absolute URL', 'GET /abs', [ $MSIE ], 200,
        "${head}http://example.test/q?a=1$tail" ],
    [ 'msie_refresh: Chrome gets the redirect', 'GET /refresh', [ $CHROME ],
        301, 0 ],
);

for my $q (@req) {
    my ($name, $line, $h, $status, $want) = @$q;
    my $w = WmNginx::fetch($wport, "$line HTTP/1.1", @$h);
    is($w->{status}, $status, "$name: $status");
    if ($want =~ /^[01]$/) {
        my $body = $w->{body} // '';
        is(index($body, $pad) >= 0 ? 1 : 0, $want,
            "$name: " . ($want ? 'padding' : 'no padding'));
        is(substr($body, -length $pad), $pad, "$name: at the end") if $want;
    } else {
        is($w->{body}, $want, "$name: the page");
        ok(!exists $w->{h}{location}, "$name: no Location");
    }
    next unless $nginx_up;
    is_deeply(WmNginx::comparable($w, $wport, 'location', 'content-type'),
        WmNginx::comparable(WmNginx::fetch($nport, "$line HTTP/1.1", @$h),
            $nport, 'location', 'content-type'),
        "$name: as nginx");
}

$t->conf_rejected("events { }\nhttp {\nmsie_padding maybe;\n}\n", 6,
    qr/"msie_padding" directive/, 'msie_padding maybe');

$ng->stop if $ng;
$t->done;
