// The one translation unit that compiles Asio, Asio SSL and Beast (separate compilation):
// every other file only sees their declarations, which keeps rebuilds short.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
