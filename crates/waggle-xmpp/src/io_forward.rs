//! Writes through the byte-stream wrappers under an XML stream: [`Limited`],
//! [`QuickAck`] and [`OnDemand`] here (and the component's own) each watch or
//! buffer what is read and write straight to the stream they wrap.
//!
//! [`Limited`]: crate::limit::Limited
//! [`QuickAck`]: crate::quickack::QuickAck
//! [`OnDemand`]: crate::read_buffer::OnDemand

/// Implement `AsyncWrite` for a wrapper by writing to its field: `forward_writes!(Type
/// => field)`, or `forward_writes!(impl<T> Type<T> => field)` for a wrapper of any
/// `T: AsyncWrite + Unpin`.
#[macro_export]
macro_rules! forward_writes {
    (impl<$t:ident> $ty:ty => $field:ident) => {
        impl<$t: ::tokio::io::AsyncWrite + Unpin> ::tokio::io::AsyncWrite for $ty {
            $crate::forward_writes!(@methods $field);
        }
    };
    ($ty:ty => $field:ident) => {
        impl ::tokio::io::AsyncWrite for $ty {
            $crate::forward_writes!(@methods $field);
        }
    };
    (@methods $field:ident) => {
        fn poll_write(
            self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
            buf: &[u8],
        ) -> ::std::task::Poll<::std::io::Result<usize>> {
            ::std::pin::Pin::new(&mut self.get_mut().$field).poll_write(cx, buf)
        }

        fn poll_write_vectored(
            self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
            bufs: &[::std::io::IoSlice<'_>],
        ) -> ::std::task::Poll<::std::io::Result<usize>> {
            ::std::pin::Pin::new(&mut self.get_mut().$field).poll_write_vectored(cx, bufs)
        }

        fn is_write_vectored(&self) -> bool {
            self.$field.is_write_vectored()
        }

        fn poll_flush(
            self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
        ) -> ::std::task::Poll<::std::io::Result<()>> {
            ::std::pin::Pin::new(&mut self.get_mut().$field).poll_flush(cx)
        }

        fn poll_shutdown(
            self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
        ) -> ::std::task::Poll<::std::io::Result<()>> {
            ::std::pin::Pin::new(&mut self.get_mut().$field).poll_shutdown(cx)
        }
    };
}
