//! An array column read where it lies in the row PostgreSQL sent: a year's backfill reads two
//! arrays a row of 36.5 million rows at 100,000 installations, and a `Vec` each was an
//! allocation and a copy.

use std::error::Error;
use std::marker::PhantomData;

use tokio_postgres::types::{FromSql, Type};

/// A value an array of `Packed` holds: fixed width, big-endian on the wire.
pub trait Element: Sized {
    const ARRAY: Type;
    const WIDTH: usize;
    /// `bytes` is exactly `WIDTH` long.
    fn read(bytes: &[u8]) -> Self;
}

impl Element for i32 {
    const ARRAY: Type = Type::INT4_ARRAY;
    const WIDTH: usize = 4;
    fn read(bytes: &[u8]) -> Self {
        let mut word = [0; 4];
        word.copy_from_slice(bytes);
        i32::from_be_bytes(word)
    }
}

impl Element for f64 {
    const ARRAY: Type = Type::FLOAT8_ARRAY;
    const WIDTH: usize = 8;
    fn read(bytes: &[u8]) -> Self {
        let mut word = [0; 8];
        word.copy_from_slice(bytes);
        f64::from_be_bytes(word)
    }
}

/// A one-dimensional array without nulls, as PostgreSQL's binary format sends it: each element
/// its length (always `WIDTH`, checked) and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Packed<'a, T> {
    elements: &'a [u8],
    element: PhantomData<T>,
}

impl<'a, T: Element> Packed<'a, T> {
    pub fn iter(&self) -> impl Iterator<Item = T> + Clone + 'a {
        self.elements
            .chunks_exact(4 + T::WIDTH)
            .map(|element| T::read(&element[4..]))
    }
}

impl<'a, T: Element> FromSql<'a> for Packed<'a, T> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let word = |at: usize| -> Result<i32, Box<dyn Error + Sync + Send>> {
            let bytes = raw
                .get(at..at + 4)
                .ok_or("an array's header is cut short")?;
            Ok(i32::read(bytes))
        };
        // The header: dimensions, whether an element is null, the element type, then each
        // dimension's length and lower bound.
        let elements = match word(0)? {
            0 => &raw[..0],
            1 if word(4)? == 0 => {
                let len = usize::try_from(word(12)?)?;
                let elements = raw.get(20..).ok_or("an array's header is cut short")?;
                if elements.len() != len * (4 + T::WIDTH) {
                    return Err("an array's elements are not its length".into());
                }
                let width = i32::try_from(T::WIDTH)?;
                if elements
                    .chunks_exact(4 + T::WIDTH)
                    .any(|element| i32::read(&element[..4]) != width)
                {
                    return Err("an array's element is null or not of its type's width".into());
                }
                elements
            }
            _ => return Err("not a one-dimensional array without nulls".into()),
        };
        Ok(Self {
            elements,
            element: PhantomData,
        })
    }

    fn accepts(ty: &Type) -> bool {
        *ty == T::ARRAY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-dimensional `int4[]` in PostgreSQL's binary format; `None` is a null element.
    fn int4_array(values: &[Option<i32>]) -> Vec<u8> {
        let has_null = values.iter().any(Option::is_none);
        let mut raw = Vec::new();
        for word in [1, i32::from(has_null), 23, values.len() as i32, 1] {
            raw.extend(word.to_be_bytes());
        }
        for value in values {
            match value {
                Some(value) => {
                    raw.extend(4i32.to_be_bytes());
                    raw.extend(value.to_be_bytes());
                }
                None => raw.extend((-1i32).to_be_bytes()),
            }
        }
        raw
    }

    fn read(raw: &[u8]) -> Result<Vec<i32>, String> {
        Packed::<i32>::from_sql(&Type::INT4_ARRAY, raw)
            .map(|packed| packed.iter().collect())
            .map_err(|error| error.to_string())
    }

    #[test]
    fn an_array_reads_its_elements_in_order_and_an_empty_one_none() {
        assert_eq!(
            read(&int4_array(&[Some(3), Some(-7), Some(70)])),
            Ok(vec![3, -7, 70])
        );
        assert_eq!(read(&[0; 12]), Ok(vec![]));
    }

    #[test]
    fn an_array_with_a_null_or_cut_short_or_of_two_dimensions_is_refused() {
        assert!(read(&int4_array(&[Some(1), None])).is_err());
        let whole = int4_array(&[Some(1), Some(2)]);
        assert!(read(&whole[..whole.len() - 1]).is_err());
        assert!(read(&whole[..8]).is_err());
        let mut two_dimensions = whole.clone();
        two_dimensions[3] = 2;
        assert!(read(&two_dimensions).is_err());
    }
}
