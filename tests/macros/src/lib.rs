//! `#[orderflow_tests::test(timeout = SECONDS)]`: a tokio test that fails with a clear
//! message when it outlives its time limit, instead of holding up the whole suite.
//!
//! The body runs inside `orderflow_tests::within`, which drops it when the limit passes:
//! every process, cluster and monitor the test started stops on drop, then the test
//! panics naming itself and its limit. `full_timeout = SECONDS` is the limit under
//! `make chaos` (`ORDERFLOW_CHAOS=full`), where scenarios run at full size.

use proc_macro::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ItemFn, Lit, MetaNameValue, Token, parse_macro_input};

/// Marks an async integration test with its time limit in seconds.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    let parser = Punctuated::<MetaNameValue, Token![,]>::parse_terminated;
    let args = match parser.parse(args) {
        Ok(args) => args,
        Err(error) => return error.to_compile_error().into(),
    };
    let mut timeout = None;
    let mut full_timeout = None;
    for arg in &args {
        let seconds = match &arg.value {
            Expr::Lit(ExprLit {
                lit: Lit::Int(int), ..
            }) => match int.base10_parse::<u64>() {
                Ok(seconds) => seconds,
                Err(error) => return error.to_compile_error().into(),
            },
            other => {
                return syn::Error::new_spanned(other, "expected a number of seconds")
                    .to_compile_error()
                    .into();
            }
        };
        if arg.path.is_ident("timeout") {
            timeout = Some(seconds);
        } else if arg.path.is_ident("full_timeout") {
            full_timeout = Some(seconds);
        } else {
            return syn::Error::new_spanned(&arg.path, "expected `timeout` or `full_timeout`")
                .to_compile_error()
                .into();
        }
    }
    let Some(timeout) = timeout else {
        return syn::Error::new(
            proc_macro2::Span::call_site(),
            "every integration test needs a time limit: #[orderflow_tests::test(timeout = SECONDS)]",
        )
        .to_compile_error()
        .into();
    };
    let full_timeout = full_timeout.unwrap_or(timeout);
    let function = parse_macro_input!(item as ItemFn);
    if function.sig.asyncness.is_none() {
        return syn::Error::new_spanned(&function.sig, "an integration test must be async")
            .to_compile_error()
            .into();
    }
    let attributes = &function.attrs;
    let visibility = &function.vis;
    let name = &function.sig.ident;
    let body = &function.block;
    quote! {
        #(#attributes)*
        #[::tokio::test]
        #visibility async fn #name() {
            ::orderflow_tests::within(
                stringify!(#name),
                ::orderflow_tests::limit(#timeout, #full_timeout),
                async move #body,
            )
            .await
        }
    }
    .into()
}
