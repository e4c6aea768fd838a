#!/usr/bin/perl
# autoindex as an nginx user sees it: the exact html and json listings of
# a directory the test builds (directories first, hostile names escaped
# for HTML and for the href, long names cut, hidden files left out, links
# shown as their targets), exact_size off, localtime, xml and jsonp (and
# a bad callback: 400), HEAD, the 403 without autoindex, the 301 for a
# directory without its slash, an index file that wins, a directory the
# workers cannot read, and a listing of 5000 entries sent to a client that
# reads slowly while another request is served. When Debian's nginx is
# installed, every listing is compared with its answer byte for byte.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(strftime);
use Test::More;
use WmTest;
use WmHttpClient;
use WmNginx;

# A zone without tzdata, so that autoindex_localtime shows a difference.
$ENV{TZ} = 'JST-9';
POSIX::tzset();

my $t = WmTest->new(timeout => 180);
my $P = $t->prefix;
my $D = qr{\d{4}/\d\d/\d\d \d\d:\d\d:\d\d};
my ($wport, $nport) = ($t->port, $t->port);

# ---- the directories --------------------------------------------------------

my $MTIME = 1735689600;    # Wed, 01 Jan 2025 00:00:00 GMT
my $L     = "$P/html/list";
my %files = (
    'a.txt'                  => "hello\n",
    'big.bin'                => 'x' x 12000,
    'huge.bin'               => 'y' x (3 * 1024 * 1024 + 600 * 1024),
    '<a&b>.txt'              => '',
    'sp ace.txt'             => '',
    'q"uote.txt'             => '',
    'co:lon'                 => '',
    "pct%20#?+;=\@\$,!~*()'x" => '',
    "tab\tx"                 => '',
    "c\x01x"                 => '',
    ('x' x 60)               => '',
    ('y' x 50)               => '',
    "\xc3\xa9t\xc3\xa9.txt"  => '',
    '.hidden'                => 'hidden',
    'sub/in.txt'             => '',
    'dir&<>/in.txt'          => '',
    (('z' x 50) . '/in.txt') => '',
    '.hid/in.txt'            => '',
);
$t->write_file("$L/$_", $files{$_}) for sort keys %files;
symlink 'a.txt', "$L/link" or die "symlink: $!";
symlink 'nowhere', "$L/broken" or die "symlink: $!";
$t->write_file("$P/html/utf/" . ("\xc3\xa9" x 30), '');
$t->write_file("$P/html/withindex/index.html", "the index\n");
$t->write_file("$P/html/withindex/other.txt", '');
$t->write_file("$P/html/noread/f.txt", '');
mkdir "$P/html/empty";
mkdir "$P/html/many";
for my $i (0 .. 4999) {
    open my $fh, '>', sprintf("$P/html/many/f%05d", $i) or die "create: $!";
    close $fh;
}
# Times last, once every entry exists (creating one touches its directory).
system('touch', '-h', '-d', "\@$MTIME", glob("$L/* $L/.[a-z]* $P/html/utf/*"),
    "$P/html/empty", "$P/html/many") == 0 or die "touch failed";
chmod 0711, "$P/html/noread";

sub http_body {
    my $port = shift;
    return <<"EOF";
    types { text/html html; text/plain txt; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root $P/html;
        autoindex on;

        location /plain/ { alias $L/; autoindex off; }
        location /json/ { alias $L/; autoindex_format json; }
        location /jsonp/ { alias $L/; autoindex_format jsonp; }
        location /xml/ { alias $L/; autoindex_format xml; }
        location /round/ { alias $L/; autoindex_exact_size off; }
        location /local/ { alias $L/; autoindex_localtime on; }
        location /ejson/ { alias $P/html/empty/; autoindex_format json; }
    }
EOF
}

my ($ng, $nginx_up, $wm_up) =
  WmNginx::start_pair($t, \&http_body, $wport, $nport);
$wm_up or do { $t->done; exit };

sub get { WmNginx::fetch($wport, "GET $_[0] HTTP/1.1", @_[1 .. $#_]) }

# The same request to nginx must give the same status, body, type.
sub as_nginx {
    my ($name, $line, @h) = @_;
    return unless $nginx_up;
    my @f = ('content-type', 'location', 'transfer-encoding');
    is_deeply(
        WmNginx::comparable(WmNginx::fetch($wport, "$line HTTP/1.1", @h),
            $wport, @f),
        WmNginx::comparable(WmNginx::fetch($nport, "$line HTTP/1.1", @h),
            $nport, @f),
        "$name: as nginx");
}

# ---- the html listing -------------------------------------------------------

# One line of the html listing: href, the name as shown, its width in
# bytes (for the padding to 50), the size column.
sub row {
    my ($href, $shown, $width, $size) = @_;
    my $pad = $width >= 50 ? '' : ' ' x (50 - $width);
    return qq{<a href="$href">$shown</a>$pad 01-Jan-2025 00:00 $size\r\n};
}
my $dash = sprintf '%19s', '-';
my $z50  = 'z' x 50;
my @html_rows = (
    row('dir%26%3C%3E/', 'dir&amp;&lt;&gt;/', 7, $dash),
    row('sub/', 'sub/', 4, $dash),
    row("$z50/", $z50, 50, $dash),
    row('%3Ca%26b%3E.txt', '&lt;a&amp;b&gt;.txt', 9, sprintf('%19d', 0)),
    row('a.txt', 'a.txt', 5, sprintf('%19d', 6)),
    row('big.bin', 'big.bin', 7, sprintf('%19d', 12000)),
    row('broken', 'broken', 6, sprintf('%19d', 7)),
    row('c%01x', "c\x01x", 3, sprintf('%19d', 0)),
    row('co%3Alon', 'co:lon', 6, sprintf('%19d', 0)),
    row('huge.bin', 'huge.bin', 8, sprintf('%19d', 3760128)),
    row('link', 'link', 4, sprintf('%19d', 6)),
    row('pct%2520%23%3F%2B%3B%3D%40%24%2C%21~%2A%28%29%27x',
        "pct%20#?+;=\@\$,!~*()'x", 21, sprintf('%19d', 0)),
    row('q%22uote.txt', 'q&quot;uote.txt', 10, sprintf('%19d', 0)),
    row('sp%20ace.txt', 'sp ace.txt', 10, sprintf('%19d', 0)),
    row('tab%09x', "tab\tx", 5, sprintf('%19d', 0)),
    row('x' x 60, ('x' x 47) . '..&gt;', 60, sprintf('%19d', 0)),
    row('y' x 50, 'y' x 50, 50, sprintf('%19d', 0)),
    row('%C3%A9t%C3%A9.txt', "\xc3\xa9t\xc3\xa9.txt", 9,
        sprintf('%19d', 0)),
);
sub page {
    my ($uri, @rows) = @_;
    return "<html>\r\n<head><title>Index of $uri</title></head>\r\n"
      . "<body>\r\n<h1>Index of $uri</h1><hr><pre>"
      . qq{<a href="../">../</a>\r\n} . join('', @rows)
      . "</pre><hr></body>\r\n</html>\r\n";
}

my $r = get('/list/');
is($r->{status}, 200, 'html listing: 200');
is($r->{h}{'content-type'}, 'text/html', 'html listing: text/html');
is($r->{h}{'transfer-encoding'}, 'chunked', 'html listing: chunked, as nginx');
is($r->{body}, page('/list/', @html_rows), 'html listing: exact body')
  or diag($r->{body});
unlike($r->{body}, qr/hid/, 'hidden files and directories are not listed');
as_nginx('html listing', 'GET /list/');

# Sizes rounded (autoindex_exact_size off).
my %round = (0 => '      0', 6 => '      6', 7 => '      7',
    12000 => '    12K', 3760128 => '     4M');
(my $want = page('/round/', @html_rows)) =~ s{
    ( [ ] 01-Jan-2025[ ]00:00[ ] ) [ ]* (-|\d+) \r\n }{
    $1 . ($2 eq '-' ? '      -' : $round{$2}) . "\r\n" }gex;
$r = get('/round/');
is($r->{body}, $want, 'autoindex_exact_size off: K and M rounded')
  or diag($r->{body});
as_nginx('exact_size off', 'GET /round/');

# autoindex_localtime: the times in the workers' time zone.
my $local = strftime('%d-%b-%Y %H:%M', localtime $MTIME);
($want = page('/local/', @html_rows)) =~ s/01-Jan-2025 00:00/$local/g;
is(get('/local/')->{body}, $want, "autoindex_localtime on: $local");
as_nginx('localtime', 'GET /local/');

# A long UTF-8 name is cut at 47 bytes, but not inside a character
# (nginx without `charset utf-8` cuts inside one).
is(get('/utf/')->{body},
    page('/utf/', row('%C3%A9' x 30, ("\xc3\xa9" x 23) . '..&gt;', 60,
        sprintf('%19d', 0))),
    'a long UTF-8 name is cut between characters');

# ---- json, jsonp, xml ---------------------------------------------------------

my $GMT = 'Wed, 01 Jan 2025 00:00:00 GMT';
my @json = (
    [ 'dir&<>', 'directory' ], [ 'sub', 'directory' ], [ $z50, 'directory' ],
    [ '<a&b>.txt', 0 ], [ 'a.txt', 6 ], [ 'big.bin', 12000 ],
    [ 'broken', 'other' ], [ 'c\\u0001x', 0 ], [ 'co:lon', 0 ],
    [ 'huge.bin', 3760128 ], [ 'link', 6 ],
    [ "pct%20#?+;=\@\$,!~*()'x", 0 ], [ 'q\\"uote.txt', 0 ],
    [ 'sp ace.txt', 0 ], [ 'tab\\tx', 0 ], [ 'x' x 60, 0 ], [ 'y' x 50, 0 ],
    [ "\xc3\xa9t\xc3\xa9.txt", 0 ],
);
my $json = "[\r\n" . join(",\r\n", map {
    my ($n, $k) = @$_;
    $k =~ /^\d+$/
      ? qq({ "name":"$n", "type":"file", "mtime":"$GMT", "size":$k })
      : qq({ "name":"$n", "type":"$k", "mtime":"$GMT" })
} @json) . "\r\n]";
# A broken link is not a regular file: nginx calls it "other", no size.
$r = get('/json/');
is($r->{h}{'content-type'}, 'application/json', 'json: application/json');
is($r->{body}, $json, 'json listing: exact body') or diag($r->{body});
as_nginx('json listing', 'GET /json/');

is(get('/ejson/')->{body}, "[\r\n]", 'json listing of an empty directory');
as_nginx('empty json listing', 'GET /ejson/');

$r = get('/jsonp/?x=1&callback=my.cb_1');
is($r->{h}{'content-type'}, 'application/javascript',
    'jsonp: application/javascript');
is($r->{body}, "/* callback */\r\nmy.cb_1($json);", 'jsonp: exact body');
as_nginx('jsonp', 'GET /jsonp/?x=1&callback=my.cb_1');
$r = get('/jsonp/');
is($r->{body}, $json, 'jsonp without a callback: plain json');
is($r->{h}{'content-type'}, 'application/json',
    'jsonp without a callback: application/json');
my $off = $t->log_size;
for my $cb ('a(b', 'a%20b', 'x' x 129) {
    $r = get("/jsonp/?callback=$cb");
    is($r->{status}, 400, "jsonp: callback \"" . substr($cb, 0, 10)
          . "\": 400");
    ok($t->wait_log(qr/\[info\] .*client sent invalid callback name: (?x)
            "\Q$cb\E",\ client:\ 127\.0\.0\.1/, from => $off),
        'jsonp: a bad callback is logged') or diag($t->log_since($off));
    as_nginx("jsonp with callback $cb", "GET /jsonp/?callback=$cb");
}
is(get('/jsonp/?callback=' . 'x' x 128)->{status}, 200,
    'jsonp: a callback of 128 bytes is fine');

$r = get('/xml/');
is($r->{h}{'content-type'}, 'text/xml; charset=utf-8', 'xml: its type');
like($r->{body}, qr{\A<\?xml version="1.0"\?>\r\n<list>\r\n(?x)
    <directory\ mtime="2025-01-01T00:00:00Z">dir&amp;&lt;&gt;</directory>\r\n
    <directory\ mtime="2025-01-01T00:00:00Z">sub</directory>\r\n}, 'xml: head');
like($r->{body}, qr{\r\n<file mtime="2025-01-01T00:00:00Z" size="0">(?x)
    &lt;a&amp;b&gt;\.txt</file>\r\n}, 'xml: an escaped name');
like($r->{body}, qr{\r\n<other mtime="2025-01-01T00:00:00Z">broken</other>(?x)
    \r\n.*</list>\r\n\z}s, 'xml: other and the end');
as_nginx('xml listing', 'GET /xml/');

# ---- the other answers ----------------------------------------------------------

$r = WmNginx::fetch($wport, 'HEAD /list/ HTTP/1.1');
is($r->{status} . ' ' . ($r->{h}{'content-type'} // '') . ' '
      . length($r->{body}), '200 text/html 0', 'HEAD: 200, no body');
as_nginx('HEAD', 'HEAD /list/');

$off = $t->log_size;
$r = get('/plain/');
is($r->{status}, 403, 'autoindex off: 403');
ok($t->wait_log(qr/\[error\] .*directory index of "\Q$L\E\/" is forbidden/,
        from => $off), 'autoindex off: logged as nginx logs it');
as_nginx('autoindex off', 'GET /plain/');

$r = get('/list');
is($r->{status}, 301, 'a directory without its slash: 301');
is($r->{h}{location}, "http://localhost:$wport/list/",
    'a directory without its slash: Location');
as_nginx('a directory without its slash', 'GET /list');

is(get('/withindex/')->{body}, "the index\n", 'an index file wins');
as_nginx('an index file wins', 'GET /withindex/');
is(get('/nodir/')->{status}, 404, 'a missing directory: 404');
as_nginx('a missing directory', 'GET /nodir/');
is(get('/list/?a=1')->{body}, page('/list/', @html_rows),
    'args do not change the listing');
as_nginx('POST', 'POST /list/');
as_nginx('a hostile URI', 'GET /list/%3Cscript%3E/');
as_nginx('a URI with < in the title', 'GET /dir%26%3C%3E/')
  if mkdir "$P/html/dir&<>";

# A directory the workers can enter but not read: 403 (only meaningful
# when the workers drop root for nobody).
SKIP: {
    skip 'workers keep our user: every directory is readable', 2
      unless $> == 0;
    $off = $t->log_size;
    is(get('/noread/')->{status}, 403, 'an unreadable directory: 403');
    ok($t->wait_log(qr/\[error\] .*opendir\(\) "\Q$P\E\/html\/noread\/" (?x)
            failed\ \(13:\ Permission\ denied\)/, from => $off),
        'an unreadable directory: logged') or diag($t->log_since($off));
}

# ---- a big listing and a slow client ----------------------------------------------

my $slow = WmHttpClient->new($wport, 4096);
$slow->send("GET /many/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
select undef, undef, undef, 0.5;
is(get('/list/a.txt')->{body}, "hello\n",
    'served while a big listing waits for its client');
$r = $slow->read_response(timeout => 60);
my @lines = split /\r\n/, $r->{body} // '';
is(scalar(grep { /^<a href="f\d{5}">/ } @lines), 5000,
    'the big listing has its 5000 entries');
is_deeply([ map { /^<a href="(f\d{5})"/ ? $1 : () } @lines ],
    [ map { sprintf 'f%05d', $_ } 0 .. 4999 ], 'in order');
is($lines[-1], '</html>', 'and its end');
as_nginx('the big listing', 'GET /many/');

is(get('/list/a.txt')->{body}, "hello\n", 'still serving');
$ng->stop if $ng;
$t->done;
