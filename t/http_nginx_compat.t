#!/usr/bin/perl
# wmproxy next to Debian's nginx: both serve the same http {} block and the
# same document root on two ports, and each request must get the same
# status line, body and Content-Type, Content-Length, ETag, Last-Modified,
# Location, Content-Range, Accept-Ranges and Connection from both. Bodies
# are compared after the server signature, the port and multipart
# boundaries are replaced by placeholders. Skipped without /usr/sbin/nginx.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use WmHttpClient;
use WmNginx;

plan skip_all => "$WmNginx::BIN is not installed"
  unless WmNginx::available();

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my ($wport, $nport) = ($t->port, $t->port);

my $MTIME = 1700000000;
my %files = (
    'html/index.html'          => "<html>index</html>\n",
    'html/a.txt'               => '0123456789abcdefghij',
    'html/upper.TXT'           => "upper\n",
    'html/file.unknownext'     => "unknown\n",
    'html/sub/index.html'      => "sub index\n",
    'html/noindex/x.txt'       => "x\n",
    'html/multi/index.txt'     => "multi index.txt\n",
    'html/fallback.html'       => "fallback\n",
    'html/abs/keep'            => "keep\n",
    'html/err/404.html'        => "custom 404\n",
    'html/err/bad.html'        => "custom bad request page\n",
    'data/images/logo.png'     => "PNG logo\n",
    'data/images/thumbs/t.png' => "PNG thumb\n",
    'html/empty.txt'           => '',
    'html/a b.txt'             => "with a space\n",
);
$t->write_file($_, $files{$_}) for sort keys %files;
utime $MTIME, $MTIME, map { "$P/$_" } keys %files;

# The http {} body both servers get; PORT is each one's own.
sub http_body {
    my $port = shift;
    return <<"EOF";
    types {
        text/html  html;
        text/plain txt;
        image/png  png;
    }
    default_type application/octet-stream;

    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root $P/html;
        error_page 400 414 /err/bad.html;

        location /multi/ { index nothere.html index.txt; }
        location /abs/ { index nothere.html /fallback.html; }
        location /img/ {
            alias $P/data/images/;
            location /img/thumbs/ { }
        }
        location /norange/ { alias $P/html/; max_ranges 0; }
        location /noetag/ { alias $P/html/; etag off; }
        location /tokens/ { alias $P/html/; server_tokens off; }
        location /rel/ { alias $P/html/; absolute_redirect off; }
        location /noport/ { alias $P/html/; port_in_redirect off; }
        location /int/ { internal; }
        location /err/ { internal; }
        location /ep/ { error_page 404 /err/404.html; }
        location /ep200/ { error_page 404 =200 /err/404.html; }
        location /epargs/ { error_page 404 /vars?from=ep; }
        location /epnamed/ { error_page 404 = \@named; }
        location \@named { return 200 "named uri=\$uri args=\$args\\n"; }
        location /epst1/ { error_page 404 \@st; }
        location /epst2/ { error_page 404 =410 \@st; }
        location /epst3/ { error_page 404 = \@st; }
        location \@st { return 200 "status=\$status\\n"; }
        location /epurl/ { error_page 404 http://example.com/nf; }
        location /vars {
            return 200 "uri=\$uri args=\$args host=\$host method=\$request_method request_uri=\$request_uri\\n";
        }
        location /vars2 {
            return 200 "ra=\$remote_addr sa=\$server_addr ua=\$http_user_agent ck=\$cookie_b ct=\$content_type cl=\$content_length cr=\$connection_requests is=\$is_args a=\$arg_a du=\$document_uri qs=\$query_string proto=\$server_protocol m=\$request_method r=\$request\\n";
        }
        location /rf/ {
            alias $P/html/sub/;
            return 200 "rf=\$request_filename dr=\$document_root\\n";
        }
        location /rf2/ {
            return 200 "rf=\$request_filename dr=\$document_root\\n";
        }
        location /https { return 301 https://\$host\$request_uri; }
        location /ret204 { return 204; }
        location /ret204text { return 204 "not sent"; }
        location /ret200 { return 200; }
        location /ret201 { return 201; }
        location /ret399 { return 399; }
        location /retst { return 202 "status=\$status\\n"; }
        location /ret301 { return 301 /moved/here; }
        location /ret302 { return 302 http://example.com/x; }
        location /ret403 { return 403; }
        location ~ ^/cap/(\\w+)\$ { return 200 "cap=\$1\\n"; }
    }
EOF
}

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
@{[ http_body($wport) ]}
}
EOF

my $ng = WmNginx->start($t, http => http_body($nport), port => $nport)
  or do { $t->done; exit };
pass('nginx started');
$t->start(workers => 1, ports => [$wport]) or do { $t->done; exit };

# ---- the requests -----------------------------------------------------------

my @req = (
    [ 'GET /',                    'GET / HTTP/1.1' ],
    [ 'GET /index.html',          'GET /index.html HTTP/1.1' ],
    [ 'HEAD /index.html',         'HEAD /index.html HTTP/1.1' ],
    [ 'GET /a.txt',               'GET /a.txt HTTP/1.1' ],
    [ 'a directory without slash', 'GET /sub HTTP/1.1' ],
    [ 'a directory without slash, with args', 'GET /sub?x=1 HTTP/1.1' ],
    [ 'GET /sub/',                'GET /sub/ HTTP/1.1' ],
    [ '404',                      'GET /nope HTTP/1.1' ],
    [ '403 for a directory without index', 'GET /noindex/ HTTP/1.1' ],
    [ 'a missing directory',      'GET /missing/ HTTP/1.1' ],
    [ 'index with several names', 'GET /multi/ HTTP/1.1' ],
    [ 'index with an absolute name', 'GET /abs/ HTTP/1.1' ],
    [ 'alias',                    'GET /img/logo.png HTTP/1.1' ],
    [ 'alias in a nested location', 'GET /img/thumbs/t.png HTTP/1.1' ],
    [ 'default_type',             'GET /file.unknownext HTTP/1.1' ],
    [ 'an upper-case extension',  'GET /upper.TXT HTTP/1.1' ],
    [ 'Range 0-4',                'GET /a.txt HTTP/1.1', 'Range: bytes=0-4' ],
    [ 'Range -3',                 'GET /a.txt HTTP/1.1', 'Range: bytes=-3' ],
    [ 'Range 15-',                'GET /a.txt HTTP/1.1', 'Range: bytes=15-' ],
    [ 'two ranges',               'GET /a.txt HTTP/1.1',
        'Range: bytes=0-1,5-7' ],
    [ 'an unsatisfiable range',   'GET /a.txt HTTP/1.1',
        'Range: bytes=100-' ],
    [ 'If-Range with another ETag', 'GET /a.txt HTTP/1.1',
        'Range: bytes=0-4', 'If-Range: "x"' ],
    [ 'If-None-Match',            'GET /a.txt HTTP/1.1',
        sprintf('If-None-Match: "%x-14"', $MTIME) ],
    [ 'If-None-Match, another tag', 'GET /a.txt HTTP/1.1',
        'If-None-Match: "x"' ],
    [ 'If-Modified-Since',        'GET /a.txt HTTP/1.1',
        'If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT' ],
    [ 'If-Match mismatch',        'GET /a.txt HTTP/1.1', 'If-Match: "x"' ],
    [ 'max_ranges 0',             'GET /norange/a.txt HTTP/1.1',
        'Range: bytes=0-4' ],
    [ 'etag off',                 'GET /noetag/a.txt HTTP/1.1' ],
    [ 'server_tokens off',        'GET /tokens/nope HTTP/1.1' ],
    [ 'POST to a file',           'POST /a.txt HTTP/1.1' ],
    [ 'DELETE /',                 'DELETE / HTTP/1.1' ],
    [ 'an unknown method',        'FOO /a.txt HTTP/1.1' ],
    [ 'internal',                 'GET /int/x HTTP/1.1' ],
    [ 'error_page 404 /uri',      'GET /ep/missing HTTP/1.1' ],
    [ 'error_page 404 =200 /uri', 'GET /ep200/missing HTTP/1.1' ],
    [ 'error_page 404 URL',       'GET /epurl/missing HTTP/1.1' ],
    [ 'error_page 404 /uri?args', 'GET /epargs/missing?orig=1 HTTP/1.1' ],
    [ 'error_page 404 = @named',  'GET /epnamed/missing?orig=1 HTTP/1.1' ],
    [ '$status in an error_page',  'GET /epst1/missing HTTP/1.1' ],
    [ '$status in an error_page =410', 'GET /epst2/missing HTTP/1.1' ],
    [ '$status in an error_page =', 'GET /epst3/missing HTTP/1.1' ],
    [ 'return text with variables', 'GET /vars?a=1 HTTP/1.1' ],
    [ 'more variables',           'GET /vars2?a=%41&b HTTP/1.1',
        'User-Agent: t/1.0', 'Cookie: a=1; b=two',
        'Content-Type: text/x-test',
        "Content-Length: 3\r\n\r\nabc" ],
    [ 'variables without arguments', 'POST /vars2 HTTP/1.1' ],
    [ 'return 301 https://$host$request_uri', 'GET /https/x?y=1 HTTP/1.1' ],
    [ '$request_filename with alias', 'GET /rf/x/y.txt HTTP/1.1' ],
    [ '$request_filename with root', 'GET /rf2/x/y.txt HTTP/1.1' ],
    [ 'return 204',               'GET /ret204 HTTP/1.1' ],
    [ 'return 204 text: no body, no Content-Type', 'GET /ret204text HTTP/1.1' ],
    [ 'return 200 without text: empty, default_type', 'GET /ret200 HTTP/1.1' ],
    [ 'HEAD of return 200',       'HEAD /ret200 HTTP/1.1' ],
    [ 'return 201 without text',  'GET /ret201 HTTP/1.1' ],
    [ 'return 399 without text: no page', 'GET /ret399 HTTP/1.1' ],
    [ '$status in the text of return', 'GET /retst HTTP/1.1' ],
    [ 'return 301 /path',         'GET /ret301 HTTP/1.1' ],
    [ 'return 302 URL',           'GET /ret302 HTTP/1.1' ],
    [ 'return 403',               'GET /ret403 HTTP/1.1' ],
    [ 'a regex capture',          'GET /cap/xyz HTTP/1.1' ],
    [ 'a range of an empty file', 'GET /empty.txt HTTP/1.1',
        'Range: bytes=0-' ],
    [ 'HEAD of a range',          'HEAD /a.txt HTTP/1.1', 'Range: bytes=0-4' ],
    [ 'HEAD of a 404',            'HEAD /nope HTTP/1.1' ],
    [ 'a %20 in the URI',         'GET /a%20b.txt HTTP/1.1' ],
    [ 'absolute_redirect off',    'GET /rel/sub HTTP/1.1' ],
    [ 'port_in_redirect off',     'GET /noport/sub HTTP/1.1' ],
    [ 'an absolute-form URI and variables',
        'GET http://localhost/vars?b=2 HTTP/1.1' ],
    [ 'an empty query',           'GET /a.txt? HTTP/1.1' ],
    [ 'an index with arguments',  'GET /sub/?x=1 HTTP/1.1' ],
    [ 'an encoded question mark', 'GET /a.txt%3F HTTP/1.1' ],
    [ 'HEAD of a redirect',       'HEAD /sub HTTP/1.1' ],
    [ 'HEAD of an index',         'HEAD /sub/ HTTP/1.1' ],
    [ 'POST to /',                'POST / HTTP/1.1' ],
    [ 'OPTIONS to a file',        'OPTIONS /a.txt HTTP/1.1' ],
    [ 'a file with a slash',      'GET /index.html/ HTTP/1.1' ],
    [ 'an alias directory without slash', 'GET /img/thumbs HTTP/1.1' ],
    [ 'a Range with spaces',      'GET /a.txt HTTP/1.1',
        'Range: bytes= 0-1 , 3-4' ],
    [ 'a Range on a 404',         'GET /nope HTTP/1.1', 'Range: bytes=0-4' ],
    [ 'If-Range with a weak ETag', 'GET /a.txt HTTP/1.1', 'Range: bytes=0-4',
        sprintf('If-Range: W/"%x-14"', $MTIME) ],
    [ 'If-Unmodified-Since before', 'GET /a.txt HTTP/1.1',
        'If-Unmodified-Since: Tue, 14 Nov 2023 22:13:19 GMT' ],
    [ 'If-None-Match on HEAD',    'HEAD /a.txt HTTP/1.1',
        sprintf('If-None-Match: "%x-14"', $MTIME) ],
    [ 'merged slashes',           'GET //sub//index.html HTTP/1.1' ],
    [ 'dot segments',             'GET /sub/./../a.txt HTTP/1.1' ],
    [ 'a Host with a trailing dot', 'GET /vars HTTP/1.1', '-',
        'Host: LocalHost.' ],
    [ 'HTTP/1.1 keep-alive',      'GET /a.txt HTTP/1.1', 'Connection: keep-alive' ],
    [ 'HTTP/1.0 keep-alive',      'GET /a.txt HTTP/1.0', '-',
        'Connection: keep-alive' ],
    [ 'HTTP/1.0 without Host',    'GET /a.txt HTTP/1.0', '-' ],
    [ 'HTTP/1.0 redirect without Host', 'GET /sub HTTP/1.0', '-' ],
    [ 'a body on GET',            'GET /a.txt HTTP/1.1',
        "Content-Length: 3\r\n\r\nabc" ],
    [ 'dot-dot above the root',   'GET /../a.txt HTTP/1.1' ],
    [ '%2e%2e above the root',    'GET /%2e%2e/a.txt HTTP/1.1' ],
    [ '%00',                      'GET /a%00 HTTP/1.1' ],
    [ 'HTTP/2.0',                 'GET /a.txt HTTP/2.0' ],
    [ 'a bad method: error_page 400', 'G(T /a.txt HTTP/1.1' ],
    [ 'a bad header: error_page 400', 'GET /a.txt HTTP/1.1', 'X : y' ],
    [ 'a long URI: error_page 414', 'GET /' . ('x' x 9000) . ' HTTP/1.1' ],
    [ 'no Host with HTTP/1.1',    'GET /a.txt HTTP/1.1', '-' ],
    [ 'two Host headers',         'GET /a.txt HTTP/1.1', 'Host: other' ],
    [ 'Transfer-Encoding: gzip',  'GET /a.txt HTTP/1.1',
        'Transfer-Encoding: gzip' ],
);

sub fetch {
    my ($port, $line, @h) = @_;
    my $raw = "$line\r\n";
    my $nohost = @h && $h[0] eq '-';
    shift @h if $nohost;
    $raw .= "Host: localhost:$port\r\n" unless $nohost;
    my $body = '';
    if (@h && $h[-1] =~ /\r\n\r\n/) {
        ($h[-1], $body) = split /\r\n\r\n/, $h[-1], 2;
    }
    $raw .= "$_\r\n" for @h;
    $raw .= "Connection: close\r\n"
      unless $line =~ /HTTP\/1\.0$/ || grep { /^Connection:/i } @h;
    $raw .= "\r\n$body";
    my $c = WmHttpClient->new($port) or return { error => "connect: $!" };
    $c->send($raw);
    return $c->read_response(head => scalar($line =~ /^HEAD /));
}

sub norm {
    my ($s, $port, $boundary) = @_;
    return undef unless defined $s;
    $s =~ s/\b(?:nginx|wmproxy)(?:\/[\d.]+)?(?=<\/center>)/SIGNATURE/g;
    $s =~ s/\b\Q$port\E\b/PORT/g;
    $s =~ s/\Q$boundary\E/BOUNDARY/g if $boundary;
    return $s;
}

my @H = ('content-type', 'content-length', 'etag', 'last-modified',
    'location', 'content-range', 'accept-ranges', 'connection',
    'transfer-encoding');

for my $q (@req) {
    my ($name, $line, @h) = @$q;
    my $n = fetch($nport, $line, @h);
    my $w = fetch($wport, $line, @h);
    if ($n->{error} || $w->{error}) {
        fail("$name: nginx: " . ($n->{error} // 'ok') . ', wmproxy: '
              . ($w->{error} // 'ok'));
        next;
    }
    my %b;
    for ([ n => $n ], [ w => $w ]) {
        my ($k, $r) = @$_;
        ($b{$k}) = ($r->{h}{'content-type'} // '') =~ /boundary=(\S+)/;
    }
    is($w->{line}, $n->{line}, "$name: status line ($n->{line})");
    my $nb = norm($n->{body}, $nport, $b{n});
    my $wb = norm($w->{body}, $wport, $b{w});
    is($wb, $nb, "$name: body");
    my $signed = $n->{body} =~ /<hr><center>/;
    for my $k (@H) {
        my $nv = norm($n->{h}{$k}, $nport, $b{n});
        my $wv = norm($w->{h}{$k}, $wport, $b{w});
        if ($k eq 'content-length' && $signed) {
            # The signatures differ in length: each must fit its body.
            is($wv, length $w->{body}, "$name: Content-Length is the body's");
            next;
        }
        if ($k eq 'content-length' && $line =~ /^HEAD / && $n->{status} >= 300
            && ($n->{h}{'content-type'} // '') eq 'text/html')
        {
            # A built-in page: as long as for GET.
            (my $get = $line) =~ s/^HEAD/GET/;
            is($wv, fetch($wport, $get, @h)->{h}{'content-length'},
                "$name: Content-Length is that of the GET");
            next;
        }
        is($wv // '<none>', $nv // '<none>',
            "$name: $k: " . ($nv // '<none>'));
    }
}

$ng->stop;
$t->done;
